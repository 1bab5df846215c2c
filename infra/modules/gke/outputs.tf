output "name" {
  description = "Cluster name."
  value       = google_container_cluster.this.name
}

output "location" {
  description = "Cluster location (zone or region)."
  value       = google_container_cluster.this.location
}

output "endpoint" {
  description = "Public IP of the control plane."
  value       = google_container_cluster.this.endpoint
}

output "ca_certificate" {
  description = "Base64-encoded cluster CA certificate."
  value       = try(google_container_cluster.this.master_auth[0].cluster_ca_certificate, "")
}

output "workload_pool" {
  description = "Workload Identity pool (PROJECT.svc.id.goog)."
  value       = local.workload_pool
}

output "node_service_account" {
  description = "Email of the nodes' service account."
  value       = google_service_account.nodes.email
}
