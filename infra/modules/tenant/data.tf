# What a retired tenant keeps: the data and the identity that owns it. Nothing here
# depends on local.active except the Workload Identity binding inside module.identity.

module "identity" {
  source = "../workload-identity"

  project_id                 = var.project_id
  account_id                 = local.account_id
  display_name               = "MLflow tenant ${var.name} (${var.environment})"
  description                = "Runs the MLflow server of tenant ${var.name}; IAM database user and owner of gs://${var.artifact_bucket}/${local.folder}"
  bind                       = local.active
  namespace                  = coalesce(local.namespace_ref, local.namespace)
  kubernetes_service_account = local.app
  labels                     = local.labels
}

locals {
  # IAM database user of a service account: its email without ".gserviceaccount.com".
  db_user = trimsuffix(module.identity.email, ".gserviceaccount.com")
}

resource "google_sql_user" "this" {
  project  = var.project_id
  instance = var.sql_instance_name
  name     = local.db_user
  type     = "CLOUD_IAM_SERVICE_ACCOUNT"
}

resource "google_sql_database" "this" {
  project  = var.project_id
  instance = var.sql_instance_name
  name     = local.database

  # Destroyed before the user (on purge) so the user no longer owns objects.
  depends_on = [google_sql_user.this]
}

resource "google_storage_managed_folder" "this" {
  bucket = var.artifact_bucket
  name   = local.folder

  # Purging a tenant must not silently delete its artifacts' objects.
  force_destroy = false
}

resource "google_storage_managed_folder_iam_member" "this" {
  bucket         = google_storage_managed_folder.this.bucket
  managed_folder = google_storage_managed_folder.this.name
  role           = "roles/storage.objectUser"
  member         = module.identity.member
}
