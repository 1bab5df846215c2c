# --- signing (active only) ------------------------------------------------------------
# The server signs the storage URLs its clients upload parts to (MLflow's proxied
# multipart upload: Cloud Run refuses request bodies over 32 MiB). Cloud Run's metadata
# server holds no private key, so the server signs through the IAM Credentials signBlob
# API as its own service account: that needs the Token Creator role on itself and on no
# other account (a project-level grant would let every tenant sign as every other). A URL
# signed this way acts with the signer's own rights: its managed folder only. The same
# grant as the GKE tenants' (infra/modules/tenant/signing.tf).

resource "google_service_account_iam_member" "self_signing" {
  for_each = local.active

  service_account_id = google_service_account.tenant[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = google_service_account.tenant[each.key].member
}
