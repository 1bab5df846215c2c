output "ip_address" {
  description = "The Gateway's global static IPv4 address (point the domain's A record here)."
  value       = google_compute_global_address.gateway.address
}

output "ip_name" {
  description = "Name of the global static address (the Gateway's NamedAddress)."
  value       = google_compute_global_address.gateway.name
}

output "certificate_map_name" {
  description = "Certificate map name (the Gateway's networking.gke.io/certmap annotation)."
  value       = google_certificate_manager_certificate_map.this.name
}

output "certificate_name" {
  description = "Certificate Manager certificate name (status shows its state)."
  value       = google_certificate_manager_certificate.this.name
}

output "dns_name_servers" {
  description = "Name servers of the managed zone, [] when no zone is used."
  value       = var.dns_managed_zone == "" ? [] : data.google_dns_managed_zone.this[0].name_servers
}

output "certificate_dns_authorization" {
  description = "The record ({name, type, data}) that proves control of the domain to Certificate Manager; created here when a managed zone is given, else by the admin."
  value       = local.dns_authorization
}

output "project_number" {
  description = "Project number."
  value       = data.google_project.this.number
}
