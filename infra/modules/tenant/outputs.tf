output "name" {
  description = "Tenant name."
  value       = var.name
}

output "url" {
  description = "Tracking URI of the tenant."
  value       = "https://${var.domain}${local.prefix}/"
}

output "members" {
  description = "IAM members with IAP access (none while retired)."
  value       = local.active ? var.members : []
}

output "namespace" {
  description = "Kubernetes namespace (exists only while active)."
  value       = local.namespace
}

output "service_account_email" {
  description = "Google service account of the tenant's server."
  value       = module.identity.email
}

output "database" {
  description = "Database name in the shared Cloud SQL instance."
  value       = google_sql_database.this.name
}

output "database_user" {
  description = "IAM database user."
  value       = google_sql_user.this.name
}

output "managed_folder" {
  description = "Managed folder in the artifact bucket."
  value       = google_storage_managed_folder.this.name
}

output "retired" {
  description = "Whether the tenant is retired."
  value       = var.retired
}

output "health_path" {
  description = "Path of the health check (under the static prefix)."
  value       = local.health
}

output "iap_condition" {
  description = "IAM condition of the tenant's IAP access."
  value       = local.iap_condition
}

output "image" {
  description = "Image the tenant's server container runs, as its Deployment records it (null while retired): what `status` reads the MLflow version from."
  value       = try([for c in kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].container : c.image if c.name == "mlflow"][0], null)
}
