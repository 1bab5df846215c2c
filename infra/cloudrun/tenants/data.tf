# --- the tenant's data (kept while retired; only removing the user deletes it) ---------

resource "google_sql_user" "tenant" {
  for_each = var.users

  project  = var.project_id
  instance = var.sql_instance_name
  name     = local.tenants[each.key].db_user
  type     = "CLOUD_IAM_SERVICE_ACCOUNT"

  # Cloud SQL checks that the service account exists.
  depends_on = [google_service_account.tenant]
}

resource "google_sql_database" "tenant" {
  for_each = var.users

  project  = var.project_id
  instance = var.sql_instance_name
  name     = local.tenants[each.key].database

  # Destroyed before the user (on purge) so the user no longer owns objects.
  depends_on = [google_sql_user.tenant]
}

resource "google_storage_managed_folder" "tenant" {
  for_each = var.users

  bucket = var.artifact_bucket
  name   = local.tenants[each.key].folder

  # Purging a tenant must not silently delete its artifacts' objects.
  force_destroy = false
}

resource "google_storage_managed_folder_iam_member" "tenant" {
  for_each = var.users

  bucket         = google_storage_managed_folder.tenant[each.key].bucket
  managed_folder = google_storage_managed_folder.tenant[each.key].name
  role           = "roles/storage.objectUser"
  member         = google_service_account.tenant[each.key].member
}
