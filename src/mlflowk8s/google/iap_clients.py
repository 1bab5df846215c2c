"""A Google lab's programmatic OAuth clients in the project's IAP settings.

Kept by the CLI, not by a platform root: the settings object is one per project and the
environments (of either Google target) share it (DESIGN.md, "Facts found by review");
``iap_settings.py`` owns the object and the per-environment records.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from mlflowk8s.google import settings as s
from mlflowk8s.google.clients import programmatic_client_ids
from mlflowk8s.google.state_bucket import storage_client
from mlflowk8s.progress import Progress

if TYPE_CHECKING:
    from mlflowk8s.lab import Lab


def allow_clients(lab: Lab, progress: Progress, project_number: str | None = None) -> None:
    """After the platform apply (IAP's API is on): the lab's clients are allow-listed.

    ``project_number``: when the platform's outputs say it (else Resource Manager is asked).
    """
    from mlflowk8s.google.iap_settings import recorded_project, sync_programmatic_clients
    from mlflowk8s.google_api import project_number as ask_project_number

    settings = lab.settings()
    required = settings.require(s.PROJECT, s.STATE_BUCKET)
    project, state_bucket = required[s.PROJECT], required[s.STATE_BUCKET]
    wanted = programmatic_client_ids(settings)
    storage = storage_client(project)
    if not wanted and recorded_project(storage, state_bucket, lab.env) is None:
        return  # nothing to allow, nothing allowed before
    progress.step("IAP settings: programmatic clients")
    change = sync_programmatic_clients(
        storage=storage, state_bucket=state_bucket, env_name=lab.env,
        project_number=project_number or ask_project_number(project, os.environ),
        wanted=wanted, env=os.environ,
    )  # fmt: skip
    _tell(change.added, change.removed, change.kept_for, progress)


def release_clients(lab: Lab, progress: Progress) -> None:
    """``destroy --delete-data``: this environment's clients leave the allow-list, unless
    another environment still lists them."""
    from mlflowk8s.google.iap_settings import recorded_project, sync_programmatic_clients

    settings = lab.settings()
    required = settings.require(s.PROJECT, s.STATE_BUCKET)
    storage = storage_client(required[s.PROJECT])
    number = recorded_project(storage, required[s.STATE_BUCKET], lab.env)
    if number is None:
        return
    progress.step("IAP settings: removing this environment's programmatic clients")
    change = sync_programmatic_clients(
        storage=storage, state_bucket=required[s.STATE_BUCKET], env_name=lab.env,
        project_number=number, wanted=[], env=os.environ,
    )  # fmt: skip
    _tell(change.added, change.removed, change.kept_for, progress)


def _tell(
    added: list[str], removed: list[str], kept_for: dict[str, list[str]], progress: Progress
) -> None:
    if added:
        progress.note(f"IAP now accepts tokens of {', '.join(added)}")
    if removed:
        progress.note(f"IAP no longer accepts tokens of {', '.join(removed)}")
    for client, envs in kept_for.items():
        progress.note(f"IAP keeps accepting {client}: environment {', '.join(envs)} uses it")
