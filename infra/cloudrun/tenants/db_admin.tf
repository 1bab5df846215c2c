# --- the DB admin identity, used only by the tenants' setup jobs ----------------------
# An IAM database user (no password) in cloudsqlsuperuser; tenants never get it.

locals {
  db_admin_id = "mlflow-dba-run-${var.environment}"

  sql_condition = "resource.name == \"projects/${var.project_id}/instances/${var.sql_instance_name}\" && resource.service == \"sqladmin.googleapis.com\""
}

resource "google_service_account" "db_admin" {
  project      = var.project_id
  account_id   = local.db_admin_id
  display_name = "MLflow DB admin (${var.environment}, Cloud Run)"
  description  = "Runs the per-tenant database setup jobs of mlflowk8s"
}

resource "google_sql_user" "db_admin" {
  project        = var.project_id
  instance       = var.sql_instance_name
  name           = trimsuffix(google_service_account.db_admin.email, ".gserviceaccount.com")
  type           = "CLOUD_IAM_SERVICE_ACCOUNT"
  database_roles = ["cloudsqlsuperuser"]
}

resource "google_project_iam_member" "db_admin" {
  for_each = toset(["roles/cloudsql.client", "roles/cloudsql.instanceUser"])

  project = var.project_id
  role    = each.value
  member  = google_service_account.db_admin.member

  condition {
    title       = "mlflow-${var.environment}-db-admin-run"
    description = "Only the lab's Cloud SQL instance"
    expression  = local.sql_condition
  }
}
