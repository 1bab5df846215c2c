# --- project APIs and the IAP service agent -----------------------------------------

locals {
  prefix = "mlflow-${var.environment}"

  # Service Usage and Cloud Resource Manager cannot be enabled from here (Terraform needs
  # them to enable anything): `mlflowk8s doctor` checks them.
  services = toset([
    "artifactregistry.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "iap.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "run.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
  ])
}

resource "google_project_service" "this" {
  for_each = local.services

  project = var.project_id
  service = each.value

  # Another environment (or another workload) in the project may still need the API.
  disable_on_destroy         = false
  disable_dependent_services = false
}

# The project number names the deterministic run.app URLs of the tenants.
data "google_project" "this" {
  project_id = var.project_id
}

# IAP calls a Cloud Run service as this agent: the tenants root grants it
# roles/run.invoker on each tenant's service (and nobody else gets that role).
# The project's IAP settings (allow-listed OAuth clients) are one object per project
# and belong to the CLI, not to this root.
resource "google_project_service_identity" "iap" {
  provider = google-beta

  project = var.project_id
  service = "iap.googleapis.com"

  depends_on = [google_project_service.this]
}
