"""``init`` and ``render``: set up a lab folder and turn it into Terraform inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlflowk8s.cli.context import interactive, lab


def init(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Option(help="Where tenants run: gcp (GKE, the default) or local (this machine)."),
    ] = None,
    project: Annotated[str | None, typer.Option(help="Google Cloud project id.")] = None,
    region: Annotated[str | None, typer.Option(help="Region, e.g. europe-west1.")] = None,
    domain: Annotated[
        str | None, typer.Option(help="Host name of the tracking service, e.g. mlflow.lab.org.")
    ] = None,
    state_bucket: Annotated[
        str | None, typer.Option(help="Terraform state bucket [default: <project>-tfstate].")
    ] = None,
    artifact_bucket: Annotated[
        str | None,
        typer.Option(help="Artifact bucket [default: <project>-mlflow-artifacts]."),
    ] = None,
    oauth_client_secret: Annotated[
        Path | None,
        typer.Option(
            help="IAP OAuth client JSON from the console; its path is recorded, never copied.",
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
    Credentials (`gcloud auth application-default login`).
    """
    from mlflowk8s import settings as s
    from mlflowk8s.lab import (
        InitReport,
        check_oauth_client_file,
        resolve_init_settings,
        write_lab_files,
    )
    from mlflowk8s.render import desktop_client_id

    lc = lab(ctx)
    current = lc.settings()
    given = {
        s.TARGET: target,
        s.PROJECT: project,
        s.REGION: region,
        s.DOMAIN: domain,
        s.STATE_BUCKET: state_bucket,
        s.ARTIFACT_BUCKET: artifact_bucket,
    }
    if oauth_client_secret is not None:
        given[s.OAUTH_CLIENT_SECRET_FILE] = str(check_oauth_client_file(oauth_client_secret))
    # A desktop client named in .env is judged here as `render` and `login` judge it.
    desktop_client_id(current)

    def ask(key: str, label: str) -> str:
        from mlflowk8s.errors import UsageError

        def checked(value: str) -> str:
            try:
                return s.validate_setting(key, value.strip())
            except UsageError as exc:
                raise typer.BadParameter(str(exc)) from exc  # the prompt says it, asks again

        return str(typer.prompt(label, value_proc=checked))

    can_prompt = interactive() and not no_input
    values = resolve_init_settings(current.values, given, ask if can_prompt else None)
    report = InitReport(target=values.get(s.TARGET, "gcp"))
    if report.target == "gcp":
        from mlflowk8s.state_bucket import ensure_state_bucket

        # The bucket first: if it fails, no lab file has been touched.
        with lc.console.status(f"Checking state bucket gs://{values[s.STATE_BUCKET]} ..."):
            report.bucket = bucket = ensure_state_bucket(
                values[s.PROJECT], values[s.STATE_BUCKET], values[s.REGION]
            )
        if bucket.created:
            lc.say(f"Created state bucket gs://{bucket.name} (versioned, private).")
        elif bucket.fixed:
            lc.say(f"State bucket gs://{bucket.name}: turned on {', '.join(bucket.fixed)}.")
        if bucket.unverified:
            lc.say(f"Note: the storage server does not report {' or '.join(bucket.unverified)}.")
    write_lab_files(lc.lab_dir, values, report)
    for name in report.changed_files:
        lc.say(f"Wrote {lc.lab_dir / name}")
    if not report.changed:
        lc.say("Nothing changed: the lab is already set up.")
    elif report.target == "gcp" and not values.get(s.OAUTH_CLIENT_SECRET_FILE):
        lc.say(
            "Before the first apply, create the IAP OAuth client in the console and run "
            "`mlflowk8s init --oauth-client-secret FILE`."
        )


def render(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print both tfvars documents as JSON.")
    ] = False,
) -> None:
    """Write the Terraform inputs for both roots into .mlflowk8s/<env>/ and print their paths."""
    from mlflowk8s.render import render_lab

    lc = lab(ctx)
    rendered = render_lab(lc.lab_dir, lc.settings(), lc.users().all_users(), lc.env)
    if as_json:
        lc.print_json({"platform": rendered.platform, "tenants": rendered.tenants})
    else:
        lc.say(str(rendered.platform_path))
        lc.say(str(rendered.tenants_path))


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(render)
