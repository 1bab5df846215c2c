"""Setting up a lab folder: ``.env``, ``users.yaml``, ``.gitignore`` and the state bucket."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlflowk8s import settings as s
from mlflowk8s.errors import UsageError
from mlflowk8s.fileio import WORK_DIR_NAME, lab_lock, write_atomic
from mlflowk8s.users import EMPTY_USERS_FILE, USERS_FILE

# The work folder holds plans and rendered inputs; the rest are secrets by convention.
GITIGNORE_LINES = (
    f"{WORK_DIR_NAME}/",
    "client_secret*.json",
    "*.credentials.json",
    "*.tfstate",
    "*.tfstate.backup",
)
GITIGNORE_HEADER = "# mlflowk8s: work folder and secrets stay out of git"

# Each GCP setting `init` needs: its command-line option, and its prompt on a terminal.
INIT_SETTINGS = {
    s.PROJECT: ("project", "Google Cloud project id"),
    s.REGION: ("region", "Region (e.g. europe-west1)"),
    s.DOMAIN: ("domain", "Domain the lab's tracking servers answer on (e.g. mlflow.lab.org)"),
    s.STATE_BUCKET: ("state-bucket", "Terraform state bucket"),
    s.ARTIFACT_BUCKET: ("artifact-bucket", "Artifact bucket"),
}


@dataclass
class InitReport:
    target: str
    changed_files: list[str] = field(default_factory=list)
    bucket: object | None = None  # state_bucket.BucketReport on GCP

    @property
    def changed(self) -> bool:
        return bool(self.changed_files) or bool(getattr(self.bucket, "changed", False))


def _defaults(values: dict[str, str]) -> dict[str, str]:
    project = values.get(s.PROJECT)
    if not project:
        return {}
    return {
        s.STATE_BUCKET: f"{project}-tfstate",
        s.ARTIFACT_BUCKET: f"{project}-mlflow-artifacts",
    }


def resolve_init_settings(
    existing: dict[str, str],
    given: dict[str, str | None],
    prompt: Callable[[str, str], str] | None,
) -> dict[str, str]:
    """Merge options over existing settings, fill defaults, prompt for or list the missing."""
    values = {k: v for k, v in existing.items() if v}
    values.update({k: v for k, v in given.items() if v})
    target = values.get(s.TARGET, "gcp")
    s.validate_setting(s.TARGET, target)
    values = {s.TARGET: target, **values}  # explicit in .env, so the admin sees it
    if target != "gcp":
        return values
    for key in s.GCP_REQUIRED:
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
        for key in s.GCP_REQUIRED
        if not values.get(key) and (values.get(s.PROJECT) or key not in defaulted)
    ]
    if missing:
        options = ", ".join("--" + INIT_SETTINGS[key][0] for key in missing)
        raise UsageError(f"missing settings: {', '.join(missing)} (pass {options})")
    for key in s.GCP_REQUIRED:
        s.validate_setting(key, values[key])
    return values


def check_oauth_client_file(path: Path) -> Path:
    """Return the absolute path of a readable OAuth client JSON (its content is never copied)."""
    from mlflowk8s.oauth_client import ClientRole, read_oauth_client

    resolved = path.expanduser().resolve()
    read_oauth_client(resolved, ClientRole.IAP)
    return resolved


def merged_gitignore(existing: str) -> str:
    present = {line.strip() for line in existing.splitlines()}
    missing = [line for line in GITIGNORE_LINES if line not in present]
    if not missing:
        return existing
    prefix = existing if not existing or existing.endswith("\n") else existing + "\n"
    header = [GITIGNORE_HEADER] if GITIGNORE_HEADER not in present else []
    return prefix + "\n".join([*header, *missing]) + "\n"


def write_lab_files(lab_dir: Path, values: dict[str, str], report: InitReport) -> None:
    """Write .env, users.yaml (only when absent) and .gitignore under the lab lock."""
    with lab_lock(lab_dir, create_lab=True):
        settings = s.load_settings(lab_dir)
        updates = {k: v for k, v in values.items() if settings.values.get(k) != v}
        if updates and s.save_settings(settings, updates):
            report.changed_files.append(s.ENV_FILE)
        users_path = lab_dir / USERS_FILE
        if not users_path.exists():
            write_atomic(users_path, EMPTY_USERS_FILE)
            report.changed_files.append(USERS_FILE)
        gitignore = lab_dir / ".gitignore"
        try:
            existing = gitignore.read_text(encoding="utf-8")
        except FileNotFoundError:
            existing = ""
        if write_atomic(gitignore, merged_gitignore(existing)):
            report.changed_files.append(".gitignore")
