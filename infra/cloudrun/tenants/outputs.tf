# Every per-tenant lookup goes through try(): a targeted plan (`plan --user`) or an apply
# that stopped half-way leaves some tenants' resources out of the state, and an index
# into a missing instance would fail the whole plan ("Invalid index") for someone else.

output "tenants" {
  description = <<-EOT
    Every tenant (retired ones too) keyed by user name: url (the deterministic
    https://<service>-<project number>.<region>.run.app), legacy_url and run_app_urls (what
    the service reports, null/[] when retired or not created yet), service, jobs ({setup,
    upgrade} => {name, token} of the Cloud Run jobs, each null while not created; jobs is
    null when retired), members with IAP access, service_account_email and database (null
    while not created), retired, image (what its server container runs, from the service;
    null when retired or not created).
  EOT
  value = {
    for name, t in local.tenants : name => {
      url          = "https://${t.host}"
      legacy_url   = try(google_cloud_run_v2_service.tenant[name].uri, null)
      run_app_urls = try(google_cloud_run_v2_service.tenant[name].urls, [])
      service      = t.service
      jobs = var.users[name].retired ? null : {
        setup   = try({ name = google_cloud_run_v2_job.setup[name].name, token = google_cloud_run_v2_job.setup[name].run_execution_token }, null)
        upgrade = try({ name = google_cloud_run_v2_job.upgrade[name].name, token = google_cloud_run_v2_job.upgrade[name].run_execution_token }, null)
      }
      members               = var.users[name].retired ? [] : var.users[name].members
      service_account_email = try(google_service_account.tenant[name].email, null)
      database              = try(google_sql_database.tenant[name].name, null)
      retired               = var.users[name].retired
      image                 = try([for c in google_cloud_run_v2_service.tenant[name].template[0].containers : c.image if c.name == "mlflow"][0], null)
    }
  }
}

output "db_admin_service_account_email" {
  description = "Service account of the setup jobs (the DB admin IAM database user)."
  value       = google_service_account.db_admin.email
}
