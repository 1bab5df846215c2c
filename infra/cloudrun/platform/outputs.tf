# Contract with the CLI: every output here is written to
# cloudrun-platform-outputs.tfvars.json and must have a same-named variable in
# infra/cloudrun/tenants.

output "project_number" {
  description = "Project number: part of every tenant's deterministic URL https://<service>-<number>.<region>.run.app."
  value       = data.google_project.this.number
}

output "region" {
  description = "Region of the services (the URL's <region>)."
  value       = var.region
}

output "sql_instance_connection_name" {
  description = "Cloud SQL connection name (PROJECT:REGION:INSTANCE), the Auth Proxy's target."
  value       = module.cloudsql.connection_name
}

output "sql_instance_name" {
  description = "Cloud SQL instance name."
  value       = module.cloudsql.instance_name
}

output "artifact_bucket" {
  description = "Artifact bucket name."
  value       = module.artifact_store.name
}

output "image_registry" {
  description = "Path of the ghcr.io pull-through repository (REGION-docker.pkg.dev/PROJECT/REPO): ghcr.io/mlflow/mlflow@sha256:… is pulled as <this>/mlflow/mlflow@sha256:…."
  value       = "${google_artifact_registry_repository.ghcr.location}-docker.pkg.dev/${google_artifact_registry_repository.ghcr.project}/${google_artifact_registry_repository.ghcr.repository_id}"
}

output "iap_service_agent" {
  description = "IAM member of the project's IAP service agent, the only invoker of the tenants' services."
  value       = "serviceAccount:${google_project_service_identity.iap.email}"
}
