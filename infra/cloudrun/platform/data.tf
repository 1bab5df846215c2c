# --- the shared data: one Cloud SQL instance, one artifact bucket -------------------

# Public IP without authorized networks and with connector enforcement REQUIRED: only
# the Cloud SQL Auth Proxy (IAM-authorized, TLS) gets in, so no VPC, NAT, PSA range or
# peering is needed for Cloud Run.
module "cloudsql" {
  source = "../../modules/cloudsql"

  project_id          = var.project_id
  region              = var.region
  zone                = var.cloudsql_zone
  name_prefix         = "${local.prefix}-run"
  private_ip          = false
  tier                = var.cloudsql_tier
  activation_policy   = var.cloudsql_activation_policy
  max_connections     = var.cloudsql_max_connections
  deletion_protection = var.deletion_protection
  labels              = { app = "mlflowk8s", environment = var.environment }

  depends_on = [google_project_service.this]
}

module "artifact_store" {
  source = "../../modules/artifact-store"

  project_id = var.project_id
  name       = var.artifact_bucket
  location   = var.region
  labels     = { app = "mlflowk8s", environment = var.environment }

  depends_on = [google_project_service.this]
}
