# --- the MLflow image, pulled through Artifact Registry ---------------------------------
# The servers' image is ghcr.io/mlflow/mlflow:vX-full, pinned by digest at `mlflowk8s init`.
# A remote repository caches it in the region: nodes pull it over Private Google Access
# (no NAT traffic, no ghcr.io rate limit) with the node service account's
# roles/artifactregistry.reader (modules/gke). The tenants root pulls
# ghcr.io/OWNER/NAME@sha256:D as <image_registry>/OWNER/NAME@sha256:D.

resource "google_artifact_registry_repository" "ghcr" {
  project       = var.project_id
  location      = var.region
  repository_id = "${local.prefix}-ghcr"
  description   = "Pull-through cache of ghcr.io for the MLflow server image"
  format        = "DOCKER"
  mode          = "REMOTE_REPOSITORY"
  labels        = { app = "mlflowk8s", environment = var.environment }

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
