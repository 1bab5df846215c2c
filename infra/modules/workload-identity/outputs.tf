output "email" {
  description = "Email of the Google service account."
  value       = google_service_account.this.email
}

output "member" {
  description = "IAM member string (serviceAccount:EMAIL)."
  value       = "serviceAccount:${google_service_account.this.email}"
}

output "name" {
  description = "Fully qualified name of the Google service account."
  value       = google_service_account.this.name
}

output "kubernetes_service_account" {
  description = "Name of the Kubernetes service account (\"\" when not bound)."
  value       = var.bind ? kubernetes_service_account_v1.this[0].metadata[0].name : ""
}
