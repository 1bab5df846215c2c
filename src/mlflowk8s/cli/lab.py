"""``init`` and ``render``: set up a lab folder and turn it into Terraform inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlflowk8s.cli.context import app_of, interactive
from mlflowk8s.google.settings import ARTIFACT_BUCKET, BUCKET_PATTERNS, STATE_BUCKET


def _written(key: str) -> str:
    return BUCKET_PATTERNS[key].format(project="<project>")


def init(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Option(
            help="Where tenants run: gcp (GKE, the default), cloudrun (a Cloud Run service "
            "each) or local (this machine). Not changed once an environment has state."
        ),
    ] = None,
    project: Annotated[str | None, typer.Option(help="Google Cloud project id.")] = None,
    region: Annotated[str | None, typer.Option(help="Region, e.g. europe-west1.")] = None,
    domain: Annotated[
        str | None,
        typer.Option(help="gcp: host name of the tracking service, e.g. mlflow.lab.org."),
    ] = None,
    state_bucket: Annotated[
        str | None,
        typer.Option(help=f"Terraform state bucket [default: {_written(STATE_BUCKET)}]."),
    ] = None,
    artifact_bucket: Annotated[
        str | None, typer.Option(help=f"Artifact bucket [default: {_written(ARTIFACT_BUCKET)}].")
    ] = None,
    oauth_client_secret: Annotated[
        Path | None,
        typer.Option(
            help="gcp: IAP OAuth client JSON from the console; its path is recorded, never copied.",
            dir_okay=False,
        ),
    ] = None,
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Never prompt: missing settings are an error.")
    ] = False,
) -> None:
    """Create or update the lab: .env, users.yaml, .gitignore and the Terraform state bucket.

    Re-running it changes only what differs and says when nothing did. On GCP the state
    bucket is created with versioning, uniform access and public access prevention, or an
    existing bucket gets the protections it lacks. Credentials: Application Default
    Credentials (`gcloud auth application-default login`). When it fails after asking
    (no credentials, no network), the answers are kept and offered as defaults next time.
    """
    from mlflowk8s.lab.init import init_lab
    from mlflowk8s.lab.init_answers import kept_answers

    app = app_of(ctx)
    options = {
        "project": project,
        "region": region,
        "domain": domain,
        "state-bucket": state_bucket,
        "artifact-bucket": artifact_bucket,
        "oauth-client-secret": str(oauth_client_secret) if oauth_client_secret else None,
    }

    # What a failed init was told at its prompts: offered again, Enter accepts.
    kept = kept_answers(app.lab_dir)

    def ask(key: str, label: str) -> str:
        from mlflowk8s.errors import UsageError
        from mlflowk8s.lab.settings import validate_setting

        def checked(value: str) -> str:
            try:
                return validate_setting(key, value.strip(), target)
            except UsageError as exc:
                raise typer.BadParameter(str(exc)) from exc  # the prompt says it, asks again

        return str(typer.prompt(label, default=kept.get(key), value_proc=checked))

    can_prompt = interactive() and not no_input
    report = init_lab(app.lab_dir, target, options, ask if can_prompt else None, app.say,
                      app.console.status)  # fmt: skip
    for name in report.changed_files:
        app.say(f"Wrote {app.lab_dir / name}")
    if not report.changed:
        app.say("Nothing changed: the lab is already set up.")
    elif report.next_step:
        app.say(report.next_step)


def render(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print both tfvars documents as JSON.")
    ] = False,
) -> None:
    """Write the Terraform inputs for both roots into .mlflowk8s/<env>/ and print their paths."""
    from mlflowk8s.errors import UsageError
    from mlflowk8s.targets.base import Renderable

    app = app_of(ctx)
    target = app.lab.target()
    if not isinstance(target, Renderable):
        raise UsageError(f"the {target.name} target has no Terraform inputs to render")
    rendered = target.render()
    if as_json:
        app.print_json({root: data for root, (_, data) in rendered.items()})
    else:
        for path, _ in rendered.values():
            app.say(str(path))


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(render)
