locals {
  active_users = { for name, u in var.users : name => u if !u.retired }

  # With no active tenant nothing of this root stays in the cluster (no Gateway, no
  # system namespace): `destroy` retires everyone and can then remove the cluster.
  any_active = length(local.active_users) > 0

  system_namespace = "mlflowk8s-system"
  gateway_name     = "mlflow"
  db_admin_id      = "mlflow-dba-${var.environment}"

  # ghcr.io/OWNER/NAME[:TAG]@sha256:D is pulled as <image_registry>/OWNER/NAME@sha256:D
  # (the tag is dropped: the digest alone names the image); other registries as given.
  image_digest = regex("sha256:[0-9a-f]{64}$", var.mlflow_image)
  ghcr_path    = try(regex("^ghcr\\.io/([^:@]+)", var.mlflow_image)[0], null)
  mlflow_image = local.ghcr_path == null ? var.mlflow_image : "${var.image_registry}/${local.ghcr_path}@${local.image_digest}"

  sql_condition = "resource.name == \"projects/${var.project_id}/instances/${var.sql_instance_name}\" && resource.service == \"sqladmin.googleapis.com\""
}

resource "kubernetes_namespace_v1" "system" {
  count = local.any_active ? 1 : 0

  metadata {
    name = local.system_namespace
    labels = {
      "app.kubernetes.io/managed-by"       = "mlflowk8s"
      "pod-security.kubernetes.io/enforce" = "restricted"
    }
  }

  # Holds the Gateway: its load balancer takes minutes to go.
  timeouts {
    delete = "20m"
  }
}

# One Gateway (one global external Application Load Balancer) for every tenant, on the
# platform's static IP and certificate map; tenants attach HTTPRoutes from their own
# namespaces, admitted by label.
resource "kubernetes_manifest" "gateway" {
  count = local.any_active ? 1 : 0

  manifest = {
    apiVersion = "gateway.networking.k8s.io/v1"
    kind       = "Gateway"
    metadata = {
      name      = local.gateway_name
      namespace = kubernetes_namespace_v1.system[0].metadata[0].name
      annotations = {
        "networking.gke.io/certmap" = var.certificate_map_name
      }
    }
    spec = {
      gatewayClassName = "gke-l7-global-external-managed"
      addresses = [{
        type  = "NamedAddress"
        value = var.gateway_ip_name
      }]
      listeners = [{
        name     = "https"
        protocol = "HTTPS"
        port     = 443
        hostname = var.domain
        allowedRoutes = {
          kinds = [{ kind = "HTTPRoute" }]
          namespaces = {
            from = "Selector"
            selector = {
              matchExpressions = [{
                key      = "mlflowk8s.io/tenant"
                operator = "Exists"
              }]
            }
          }
        }
      }]
    }
  }
}

# --- the DB admin identity used only by the per-tenant setup Jobs ----------------------
# An IAM database user (no password) in cloudsqlsuperuser; tenants never get it.

module "db_admin" {
  source = "../modules/workload-identity"

  project_id                 = var.project_id
  account_id                 = local.db_admin_id
  display_name               = "MLflow DB admin (${var.environment})"
  description                = "Runs the per-tenant database setup Jobs of mlflowk8s"
  bind                       = local.any_active
  namespace                  = local.any_active ? kubernetes_namespace_v1.system[0].metadata[0].name : local.system_namespace
  kubernetes_service_account = "db-admin"
  labels                     = { "app.kubernetes.io/managed-by" = "mlflowk8s" }
}

resource "google_sql_user" "db_admin" {
  project        = var.project_id
  instance       = var.sql_instance_name
  name           = trimsuffix(module.db_admin.email, ".gserviceaccount.com")
  type           = "CLOUD_IAM_SERVICE_ACCOUNT"
  database_roles = ["cloudsqlsuperuser"]
}

resource "google_project_iam_member" "db_admin" {
  for_each = toset(["roles/cloudsql.client", "roles/cloudsql.instanceUser"])

  project = var.project_id
  role    = each.value
  member  = module.db_admin.member

  condition {
    title       = "mlflow-${var.environment}-db-admin"
    description = "Only the lab's Cloud SQL instance"
    expression  = local.sql_condition
  }
}

# --- tenants ------------------------------------------------------------------------

module "tenant" {
  source   = "../modules/tenant"
  for_each = var.users

  project_id            = var.project_id
  environment           = var.environment
  name                  = each.key
  domain                = var.domain
  members               = each.value.members
  retired               = each.value.retired
  server_command        = each.value.server_command
  server_env            = each.value.server_env
  ready_path            = each.value.ready_path
  static_prefix         = each.value.static_prefix
  artifacts_destination = each.value.artifacts_destination
  mlflow_image          = local.mlflow_image
  server_resources      = var.server_resources
  proxy_resources       = var.proxy_resources
  tmp_size_limit        = var.tmp_size_limit

  cloudsql_proxy_image         = var.cloudsql_proxy_image
  sql_instance_name            = var.sql_instance_name
  sql_instance_connection_name = var.sql_instance_connection_name
  artifact_bucket              = var.artifact_bucket

  gateway_name            = local.any_active ? kubernetes_manifest.gateway[0].manifest.metadata.name : local.gateway_name
  gateway_namespace       = local.any_active ? kubernetes_namespace_v1.system[0].metadata[0].name : local.system_namespace
  iap_oauth_client_id     = var.iap_oauth_client_id
  iap_oauth_client_secret = var.iap_oauth_client_secret
  backend_timeout_sec     = var.backend_timeout_sec

  db_setup_namespace       = local.any_active ? kubernetes_namespace_v1.system[0].metadata[0].name : local.system_namespace
  db_setup_service_account = local.any_active ? module.db_admin.kubernetes_service_account : "db-admin"
  db_admin_user            = google_sql_user.db_admin.name

  # The setup Jobs sign in as the DB admin: after its grants and its Workload Identity
  # binding (module.db_admin).
  depends_on = [google_project_iam_member.db_admin, module.db_admin]
}
