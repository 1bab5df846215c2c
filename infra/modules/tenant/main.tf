# Everything one tenant owns. Every name derives from var.name only (plus the environment
# for project-wide Google names), so tenants never touch each other's resources.
#
# One file per topic:
#   data.tf     what a retired tenant keeps: Google service account, IAM database user,
#               database, managed folder and its IAM (the data and the identity owning it)
#   database.tf access to the database while active: Cloud SQL IAM, the setup Job
#   workload.tf namespace, Deployment (Auth Proxy sidecar, db upgrade, server), Service,
#               NetworkPolicy
#   routing.tf  HTTPRoute, GCPBackendPolicy (IAP), HealthCheckPolicy, members' IAP access
# Everything but data.tf exists only while the tenant is active (count/for_each on
# local.active): retiring deletes the namespace and with it every Kubernetes object.

locals {
  active = !var.retired

  # Google service account ids are project-wide, 6-30 chars: "mlf-" + name (<= 20) +
  # "-" + 4 hex of the environment keeps two environments in one project apart.
  account_id = "mlf-${var.name}-${substr(sha1(var.environment), 0, 4)}"
  namespace  = "mlflow-${var.name}"
  database   = "mlflow_${replace(var.name, "-", "_")}"
  folder     = "${var.name}/"
  prefix     = "/${var.name}"
  health     = "/${var.name}/health"
  port       = 5000
  app        = "mlflow"

  labels = {
    "app.kubernetes.io/name"       = local.app
    "app.kubernetes.io/instance"   = var.name
    "app.kubernetes.io/managed-by" = "mlflowk8s"
  }

  # The namespace's name once it exists (null while retired): objects that name it through
  # this local are created after it and deleted with it.
  namespace_ref = one(kubernetes_namespace_v1.this[*].metadata[0].name)
}
