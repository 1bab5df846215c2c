# A Google service account and, when bound, a Kubernetes service account that acts as it
# through Workload Identity: pods get short-lived Google credentials, no keys exist.

resource "google_service_account" "this" {
  project      = var.project_id
  account_id   = var.account_id
  display_name = var.display_name
  description  = var.description
}

resource "kubernetes_service_account_v1" "this" {
  count = var.bind ? 1 : 0

  metadata {
    name      = var.kubernetes_service_account
    namespace = var.namespace
    labels    = var.labels
    annotations = {
      "iam.gke.io/gcp-service-account" = google_service_account.this.email
    }
  }

  # Pods that need the Kubernetes API are none; they get a token only where mounted.
  automount_service_account_token = false
}

resource "google_service_account_iam_member" "workload_identity" {
  count = var.bind ? 1 : 0

  service_account_id = google_service_account.this.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.namespace}/${var.kubernetes_service_account}]"
}
