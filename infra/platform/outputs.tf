# Contract with the CLI: every output here is written to platform-outputs.tfvars.json
# and must have a same-named variable in the tenants root.

output "cluster_name" {
  description = "GKE cluster name."
  value       = module.gke.name
}

output "cluster_location" {
  description = "GKE cluster location (zone)."
  value       = module.gke.location
}

output "cluster_endpoint" {
  description = "GKE control-plane endpoint (IP)."
  value       = module.gke.endpoint
}

output "cluster_ca_certificate" {
  description = "Base64-encoded cluster CA certificate."
  value       = module.gke.ca_certificate
}

output "sql_instance_connection_name" {
  description = "Cloud SQL connection name (PROJECT:REGION:INSTANCE)."
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

output "gateway_ip_address" {
  description = "Global static IP of the Gateway (the domain's A record)."
  value       = module.iap_ingress.ip_address
}

output "gateway_ip_name" {
  description = "Name of the Gateway's global static IP."
  value       = module.iap_ingress.ip_name
}

output "certificate_map_name" {
  description = "Certificate Manager map used by the Gateway."
  value       = module.iap_ingress.certificate_map_name
}

output "dns_name_servers" {
  description = "Name servers of dns_managed_zone; [] when none is used."
  value       = module.iap_ingress.dns_name_servers
}

output "certificate_dns_authorization" {
  description = "DNS record {name, type, data} the admin must create for the certificate's DNS authorization when no managed zone is used."
  value       = module.iap_ingress.certificate_dns_authorization
}

output "image_registry" {
  description = "Path of the ghcr.io pull-through repository (REGION-docker.pkg.dev/PROJECT/REPO): ghcr.io/mlflow/mlflow@sha256:… is pulled as <this>/mlflow/mlflow@sha256:…."
  value       = "${google_artifact_registry_repository.ghcr.location}-docker.pkg.dev/${google_artifact_registry_repository.ghcr.project}/${google_artifact_registry_repository.ghcr.repository_id}"
}
