"""What `init` asks for a cloudrun lab; the image pin and the state bucket are
``google/init.py``'s.

No domain and no IAP OAuth client: each tenant answers on its own run.app URL, and IAP
signs browsers of the project's organization in with its Google-managed client.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mlflowk8s.errors import UsageError
from mlflowk8s.google.clients import desktop_client_id
from mlflowk8s.google.init import GoogleInit
from mlflowk8s.google.settings import bucket_defaults
from mlflowk8s.lab.settings import Settings
from mlflowk8s.targets.base import Prompt
from mlflowk8s.targets.cloudrun import settings as s

# Each setting `init` needs: its command-line option, and its prompt on a terminal.
INIT_SETTINGS = {
    s.PROJECT: ("project", "Google Cloud project id"),
    s.REGION: ("region", "Region of the Cloud Run services (e.g. europe-west1)"),
    s.STATE_BUCKET: ("state-bucket", "Terraform state bucket"),
    s.ARTIFACT_BUCKET: ("artifact-bucket", "Artifact bucket"),
}
# Options of `init` that belong to the gcp target: refused here, not silently dropped.
FOREIGN_OPTIONS = ("domain", "oauth-client-secret")


class CloudRunInit(GoogleInit):
    def settings(
        self,
        values: dict[str, str],
        options: Mapping[str, str | None],
        prompt: Prompt | None,
        env_file: Path,
    ) -> dict[str, str]:
        foreign = [f"--{o}" for o in FOREIGN_OPTIONS if options.get(o)]
        if foreign:
            raise UsageError(
                f"the cloudrun target takes no {' or '.join(foreign)}: tenants answer on "
                "their own run.app URLs and IAP uses its Google-managed client"
            )
        by_option = {option: key for key, (option, _) in INIT_SETTINGS.items()}
        values.update({by_option[o]: v for o, v in options.items() if v and o in by_option})
        if not values.get(s.PROJECT) and prompt is not None:
            values[s.PROJECT] = prompt(s.PROJECT, INIT_SETTINGS[s.PROJECT][1])
        project = values.get(s.PROJECT)
        for key, default in (bucket_defaults(project) if project else {}).items():
            values.setdefault(key, default)
        for key in s.REQUIRED:
            if not values.get(key) and prompt is not None:
                values[key] = prompt(key, INIT_SETTINGS[key][1])
        # Without a project the buckets have no default either: only the project is missing.
        missing = [k for k in s.REQUIRED if not values.get(k) and (project or k == s.PROJECT)]
        if missing:
            listed = ", ".join("--" + INIT_SETTINGS[key][0] for key in missing)
            raise UsageError(f"missing settings: {', '.join(missing)} (pass {listed})")
        for key in (*s.REQUIRED, s.MLFLOW_IMAGE, s.PROJECT_NUMBER):
            if values.get(key):
                s.validate(key, values[key])
        desktop_client_id(Settings(env_file, values))
        self.pin_image(values)
        return values

    def next_step(self, values: Mapping[str, str]) -> str | None:
        return (
            "Next: `mlflowk8s add-user NAME --member EMAIL`, then `mlflowk8s apply`. Members "
            "outside the project's organization need a custom IAP OAuth client (README, "
            '"Cloud Run").'
        )
