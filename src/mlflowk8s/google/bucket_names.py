"""The bucket names `init` writes to ``.env`` when the admin gives none (both Google targets).

Written once by `init`, never derived at each run: the state bucket holds the state of
every resource of the lab, so its name must not follow a later change of ``GCP_PROJECT``,
and `plan` must never look for a bucket `init` has not created. A lab missing one is told
to run `mlflowk8s init`, which writes it from the project and creates the state bucket.
"""

from __future__ import annotations

# The same keys for every Google target (targets/gcp/settings.py names them for both).
STATE_BUCKET = "TF_GCS_BUCKET"
ARTIFACT_BUCKET = "MLFLOW_GCS_BUCKET"

PATTERNS = {STATE_BUCKET: "{project}-tfstate", ARTIFACT_BUCKET: "{project}-mlflow-artifacts"}


def bucket_defaults(project: str) -> dict[str, str]:
    """What `init` writes for each bucket setting the admin left out."""
    return {key: pattern.format(project=project) for key, pattern in PATTERNS.items()}
