"""What `init` asks for a gcp lab; the image pin and the state bucket are ``google/init.py``'s."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mlflowk8s.errors import UsageError
from mlflowk8s.google.clients import desktop_client_id
from mlflowk8s.google.init import GoogleInit
from mlflowk8s.google.settings import bucket_defaults
from mlflowk8s.lab.settings import Settings
from mlflowk8s.targets.base import Prompt
from mlflowk8s.targets.gcp import settings as s

# Each setting `init` needs: its command-line option, and its prompt on a terminal.
INIT_SETTINGS = {
    s.PROJECT: ("project", "Google Cloud project id"),
    s.REGION: ("region", "Region (e.g. europe-west1)"),
    s.DOMAIN: ("domain", "Domain the lab's tracking servers answer on (e.g. mlflow.lab.org)"),
    s.STATE_BUCKET: ("state-bucket", "Terraform state bucket"),
    s.ARTIFACT_BUCKET: ("artifact-bucket", "Artifact bucket"),
}
OAUTH_CLIENT_OPTION = "oauth-client-secret"


def _defaults(values: Mapping[str, str]) -> dict[str, str]:
    project = values.get(s.PROJECT)
    return bucket_defaults(project) if project else {}


def check_oauth_client_file(path: str) -> str:
    """The absolute path of a readable OAuth client JSON (its content is never copied)."""
    from mlflowk8s.oauth_client import ClientRole, read_oauth_client

    resolved = Path(path).expanduser().resolve()
    read_oauth_client(resolved, ClientRole.IAP)
    return str(resolved)


class GcpInit(GoogleInit):
    def settings(
        self,
        values: dict[str, str],
        options: Mapping[str, str | None],
        prompt: Prompt | None,
        env_file: Path,
    ) -> dict[str, str]:
        by_option = {option: key for key, (option, _) in INIT_SETTINGS.items()}
        values.update({by_option[o]: v for o, v in options.items() if v and o in by_option})
        if options.get(OAUTH_CLIENT_OPTION):
            values[s.OAUTH_CLIENT_SECRET_FILE] = check_oauth_client_file(
                str(options[OAUTH_CLIENT_OPTION])
            )
        for key in s.REQUIRED:
            if not values.get(key):
                default = _defaults(values).get(key)
                if default:
                    values[key] = default
                elif prompt is not None:
                    values[key] = prompt(key, INIT_SETTINGS[key][1])
        # The bucket names default from the project, so without a project only it is missing.
        defaulted = set(_defaults({s.PROJECT: "x"}))
        missing = [
            key
            for key in s.REQUIRED
            if not values.get(key) and (values.get(s.PROJECT) or key not in defaulted)
        ]
        if missing:
            listed = ", ".join("--" + INIT_SETTINGS[key][0] for key in missing)
            raise UsageError(f"missing settings: {', '.join(missing)} (pass {listed})")
        for key in s.REQUIRED:
            s.validate(key, values[key])
        # A desktop client named in .env is judged here as `render` and `login` judge it.
        desktop_client_id(Settings(env_file, values))
        self.pin_image(values)
        return values

    def next_step(self, values: Mapping[str, str]) -> str | None:
        if values.get(s.OAUTH_CLIENT_SECRET_FILE):
            return None
        return (
            "Before the first apply, create the IAP OAuth client in the console and run "
            "`mlflowk8s init --oauth-client-secret FILE`."
        )
