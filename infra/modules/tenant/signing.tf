# --- signing (active only) ------------------------------------------------------------
# The server signs the storage URLs its clients upload parts to and download from (MLflow's
# proxied multipart upload, presigned downloads). Workload Identity holds no private key, so
# it signs through the IAM Credentials signBlob API as its own service account: that needs
# the Token Creator role on itself, and on no other account. A URL signed this way acts with
# the signer's own rights: this tenant's managed folder only.

resource "google_service_account_iam_member" "self_signing" {
  count = local.active ? 1 : 0

  service_account_id = module.identity.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = module.identity.member
}
