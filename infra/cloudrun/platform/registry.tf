# --- the MLflow image, pulled through Artifact Registry -----------------------------
# Cloud Run deploys from Artifact Registry (or Docker Hub), not from ghcr.io: a remote
# repository caches ghcr.io/mlflow/mlflow:vX-full, and the tenants reference the image as
# <registry>/mlflow/mlflow@sha256:… (the digest pinned at `mlflowk8s init`).

resource "google_artifact_registry_repository" "ghcr" {
  project       = var.project_id
  location      = var.region
  repository_id = "${local.prefix}-ghcr"
  description   = "Pull-through cache of ghcr.io for the MLflow server image"
  format        = "DOCKER"
  mode          = "REMOTE_REPOSITORY"

  remote_repository_config {
    description = "ghcr.io (public images, no credentials)"
    docker_repository {
      custom_repository {
        uri = "https://ghcr.io"
      }
    }
  }

  depends_on = [google_project_service.this]
}
