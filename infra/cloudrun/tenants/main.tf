# One Cloud Run service per tenant with IAP on the service itself (no load balancer),
# scaled to zero, reaching the shared Cloud SQL instance through an Auth Proxy sidecar as
# the tenant's own service account (IAM database user, no password).
#
# Every per-tenant resource is keyed by the user name, so adding a user adds only that
# user's resources. Kept while retired: service account, IAM database user, database,
# managed folder and its IAM. Active only: database access IAM, setup and upgrade jobs,
# the service, its invoker binding and the members' IAP access.

locals {
  active = { for name, u in var.users : name => u if !u.retired }

  # ghcr.io/OWNER/NAME[:TAG]@sha256:D is pulled as <image_registry>/OWNER/NAME@sha256:D
  # (the tag is dropped: the digest alone names the image).
  image_digest = regex("sha256:[0-9a-f]{64}$", var.mlflow_image)
  image_path   = regex("^ghcr\\.io/([^:@]+)", var.mlflow_image)[0]
  mlflow_image = "${var.image_registry}/${local.image_path}@${local.image_digest}"

  # The same SQL as the GKE tenants (REVOKE from PUBLIC, GRANT to the tenant), read from
  # the GKE tenant module so there is one copy.
  db_setup_script = file("${path.module}/../../modules/tenant/db_setup.py")

  db_port    = 5432
  admin_port = 9091

  tenants = {
    for name in keys(var.users) : name => {
      # Project-wide names carry the environment. Service account ids are 6-30 chars:
      # "mlr-" + name (<= 20) + "-" + 4 hex of the environment ("mlf-" is the GKE target's).
      account_id = "mlr-${name}-${substr(sha1(var.environment), 0, 4)}"
      service    = "mlflow-${var.environment}-${name}"
      database   = "mlflow_${replace(name, "-", "_")}"
      folder     = "${name}/"
      # IAM database user of a service account: its email without ".gserviceaccount.com".
      db_user = "mlr-${name}-${substr(sha1(var.environment), 0, 4)}@${var.project_id}.iam"
      # Deterministic URL: known before the service exists, so the CLI can put its host
      # into --allowed-hosts.
      host = "mlflow-${var.environment}-${name}-${var.project_number}.${var.region}.run.app"
    }
  }
}
