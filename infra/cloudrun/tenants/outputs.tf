output "tenants" {
  description = <<-EOT
    Every tenant (retired ones too) keyed by user name: url (the deterministic
    https://<service>-<project number>.<region>.run.app), legacy_url and run_app_urls (what
    the service reports, null/[] when retired), service, jobs ({setup, upgrade} =>
    {name, token} of the Cloud Run jobs, null when retired), members with IAP access,
    service_account_email, database, retired, image (what its server container runs, from
    the service; null when retired).
  EOT
  value = {
    for name, t in local.tenants : name => {
      url          = "https://${t.host}"
      legacy_url   = try(google_cloud_run_v2_service.tenant[name].uri, null)
      run_app_urls = try(google_cloud_run_v2_service.tenant[name].urls, [])
      service      = t.service
      jobs = var.users[name].retired ? null : {
        setup   = { name = google_cloud_run_v2_job.setup[name].name, token = google_cloud_run_v2_job.setup[name].run_execution_token }
        upgrade = { name = google_cloud_run_v2_job.upgrade[name].name, token = google_cloud_run_v2_job.upgrade[name].run_execution_token }
      }
      members               = var.users[name].retired ? [] : var.users[name].members
      service_account_email = google_service_account.tenant[name].email
      database              = google_sql_database.tenant[name].name
      retired               = var.users[name].retired
      image                 = try([for c in google_cloud_run_v2_service.tenant[name].template[0].containers : c.image if c.name == "mlflow"][0], null)
    }
  }
}

output "db_admin_service_account_email" {
  description = "Service account of the setup jobs (the DB admin IAM database user)."
  value       = google_service_account.db_admin.email
}
