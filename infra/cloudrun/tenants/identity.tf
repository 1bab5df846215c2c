# --- the tenant's identity (kept while retired) and its database access (active only) ---

resource "google_service_account" "tenant" {
  for_each = var.users

  project      = var.project_id
  account_id   = local.tenants[each.key].account_id
  display_name = "MLflow tenant ${each.key} (${var.environment}, Cloud Run)"
  description  = "Runs the Cloud Run service of MLflow tenant ${each.key}; IAM database user and owner of gs://${var.artifact_bucket}/${local.tenants[each.key].folder}"
}

resource "google_project_iam_member" "tenant_sql" {
  for_each = {
    for pair in setproduct(keys(local.active), ["roles/cloudsql.client", "roles/cloudsql.instanceUser"]) :
    "${pair[0]}/${pair[1]}" => { user = pair[0], role = pair[1] }
  }

  project = var.project_id
  role    = each.value.role
  member  = google_service_account.tenant[each.value.user].member

  condition {
    title       = "mlflow-${var.environment}-${each.value.user}-sql"
    description = "Only the lab's Cloud SQL instance"
    expression  = local.sql_condition
  }
}
