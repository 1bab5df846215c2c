# Everything one tenant owns. Every name derives from var.name only (plus the environment
# for project-wide Google names), so tenants never touch each other's resources.
#
# Kept while retired: Google service account, IAM database user, database, managed folder
# and its IAM (the data and the identity that owns it).
# Active only: namespace (and with it every Kubernetes object), database access IAM,
# setup Job, Deployment, Service, HTTPRoute, GCPBackendPolicy, HealthCheckPolicy and the
# IAP access of the members.

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

  # IAM database user of a service account: its email without ".gserviceaccount.com".
  db_user = trimsuffix(module.identity.email, ".gserviceaccount.com")

  # Through the Auth Proxy sidecar (--auto-iam-authn): no password in the URI.
  backend_store_uri = "postgresql+psycopg2://${urlencode(local.db_user)}@127.0.0.1:5432/${local.database}"

  # CLI-rendered env first; the Terraform-owned entries win. HOME and USER: the image
  # runs as uid 1000 without a passwd entry and a read-only root filesystem.
  server_env = merge(
    { HOME = "/tmp", USER = "mlflow" },
    var.server_env,
    { MLFLOW_BACKEND_STORE_URI = local.backend_store_uri },
  )

  labels = {
    "app.kubernetes.io/name"       = local.app
    "app.kubernetes.io/instance"   = var.name
    "app.kubernetes.io/managed-by" = "mlflowk8s"
  }

  sql_condition = "resource.name == \"projects/${var.project_id}/instances/${var.sql_instance_name}\" && resource.service == \"sqladmin.googleapis.com\""

  # IAP access to this tenant's path only, on this environment's host only.
  iap_condition = "request.host == \"${var.domain}\" && (request.path == \"${local.prefix}\" || request.path.startsWith(\"${local.prefix}/\"))"

  static_prefix_arg = try(var.server_args[index(var.server_args, "--static-prefix") + 1], null)
  artifacts_arg     = try(var.server_args[index(var.server_args, "--artifacts-destination") + 1], null)
}

# --- identity (kept while retired) ----------------------------------------------------

module "identity" {
  source = "../workload-identity"

  project_id                 = var.project_id
  account_id                 = local.account_id
  display_name               = "MLflow tenant ${var.name} (${var.environment})"
  description                = "Runs the MLflow server of tenant ${var.name}; IAM database user and owner of gs://${var.artifact_bucket}/${local.folder}"
  bind                       = local.active
  namespace                  = local.active ? kubernetes_namespace_v1.this[0].metadata[0].name : local.namespace
  kubernetes_service_account = local.app
  labels                     = local.labels
}

# --- data (kept while retired) --------------------------------------------------------

resource "google_sql_user" "this" {
  project  = var.project_id
  instance = var.sql_instance_name
  name     = local.db_user
  type     = "CLOUD_IAM_SERVICE_ACCOUNT"
}

resource "google_sql_database" "this" {
  project  = var.project_id
  instance = var.sql_instance_name
  name     = local.database

  # Destroyed before the user (on purge) so the user no longer owns objects.
  depends_on = [google_sql_user.this]
}

resource "google_storage_managed_folder" "this" {
  bucket = var.artifact_bucket
  name   = local.folder

  # Purging a tenant must not silently delete its artifacts' objects.
  force_destroy = false
}

resource "google_storage_managed_folder_iam_member" "this" {
  bucket         = google_storage_managed_folder.this.bucket
  managed_folder = google_storage_managed_folder.this.name
  role           = "roles/storage.objectUser"
  member         = module.identity.member
}

# --- access to the database (active only) ---------------------------------------------

resource "google_project_iam_member" "sql" {
  for_each = local.active ? toset(["roles/cloudsql.client", "roles/cloudsql.instanceUser"]) : toset([])

  project = var.project_id
  role    = each.value
  member  = module.identity.member

  condition {
    title       = "mlflow-${var.environment}-${var.name}-sql"
    description = "Only the lab's Cloud SQL instance"
    expression  = local.sql_condition
  }
}

# --- cluster objects (active only) ----------------------------------------------------

resource "kubernetes_namespace_v1" "this" {
  count = local.active ? 1 : 0

  metadata {
    name = local.namespace
    labels = merge(local.labels, {
      # The shared Gateway admits routes from namespaces with this label.
      "mlflowk8s.io/tenant"                = var.name
      "pod-security.kubernetes.io/enforce" = "restricted"
    })
  }
}

resource "kubernetes_secret_v1" "iap" {
  count = local.active ? 1 : 0

  metadata {
    name      = "iap-oauth-client"
    namespace = kubernetes_namespace_v1.this[0].metadata[0].name
    labels    = local.labels
  }

  # GCPBackendPolicy reads the secret from the key "key".
  data = {
    key = var.iap_oauth_client_secret
  }
}

# Per-tenant SQL, run as the DB admin IAM user through the Auth Proxy: the tenant's IAM
# user gets its own database, PUBLIC loses CONNECT. Idempotent (runs again on re-adding).
resource "kubernetes_job_v1" "db_setup" {
  count = local.active ? 1 : 0

  metadata {
    name      = "db-setup-${var.name}"
    namespace = var.db_setup_namespace
    labels    = local.labels
  }

  wait_for_completion = true

  spec {
    backoff_limit           = 4
    active_deadline_seconds = 600

    template {
      metadata {
        labels = merge(local.labels, { "app.kubernetes.io/component" = "db-setup" })
      }

      spec {
        service_account_name            = var.db_setup_service_account
        automount_service_account_token = false
        restart_policy                  = "Never"

        security_context {
          run_as_non_root = true
          run_as_user     = 65532
          run_as_group    = 65532
          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        # Native sidecar: starts first, stops when the Job's container has finished.
        init_container {
          name           = "cloud-sql-proxy"
          image          = var.cloudsql_proxy_image
          restart_policy = "Always"
          args = [
            "--private-ip",
            "--auto-iam-authn",
            "--structured-logs",
            "--port=5432",
            "--health-check",
            "--http-address=0.0.0.0",
            "--http-port=9090",
            var.sql_instance_connection_name,
          ]

          startup_probe {
            http_get {
              path = "/startup"
              port = "9090"
            }
            period_seconds    = 2
            failure_threshold = 30
          }

          resources {
            requests = var.proxy_resources.requests
            limits   = var.proxy_resources.limits
          }

          security_context {
            allow_privilege_escalation = false
            read_only_root_filesystem  = true
            capabilities {
              drop = ["ALL"]
            }
          }
        }

        container {
          name    = "setup"
          image   = var.mlflow_image
          command = ["python", "-c", file("${path.module}/db_setup.py")]

          env {
            name  = "ADMIN_DB_USER"
            value = var.db_admin_user
          }
          env {
            name  = "TENANT_DATABASE"
            value = google_sql_database.this.name
          }
          env {
            name  = "TENANT_DB_USER"
            value = google_sql_user.this.name
          }

          resources {
            requests = { cpu = "50m", memory = "128Mi" }
            limits   = { cpu = "500m", memory = "256Mi" }
          }

          security_context {
            allow_privilege_escalation = false
            read_only_root_filesystem  = true
            capabilities {
              drop = ["ALL"]
            }
          }
        }
      }
    }
  }

  timeouts {
    create = "10m"
    update = "10m"
  }

  depends_on = [google_project_iam_member.sql]
}

resource "kubernetes_deployment_v1" "this" {
  count = local.active ? 1 : 0

  metadata {
    name      = local.app
    namespace = kubernetes_namespace_v1.this[0].metadata[0].name
    labels    = local.labels
  }

  spec {
    replicas = 1

    selector {
      match_labels = local.labels
    }

    # One server per tenant: never two writers running `db upgrade` at once.
    strategy {
      type = "Recreate"
    }

    template {
      metadata {
        labels = local.labels
      }

      spec {
        service_account_name            = module.identity.kubernetes_service_account
        automount_service_account_token = false

        security_context {
          run_as_non_root = true
          run_as_user     = 1000
          run_as_group    = 1000
          fs_group        = 1000
          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        # Native sidecar: ready before `mlflow db upgrade` and the server start.
        init_container {
          name           = "cloud-sql-proxy"
          image          = var.cloudsql_proxy_image
          restart_policy = "Always"
          args = [
            "--private-ip",
            "--auto-iam-authn",
            "--structured-logs",
            "--port=5432",
            "--health-check",
            "--http-address=0.0.0.0",
            "--http-port=9090",
            "--exit-zero-on-sigterm",
            var.sql_instance_connection_name,
          ]

          startup_probe {
            http_get {
              path = "/startup"
              port = "9090"
            }
            period_seconds    = 2
            failure_threshold = 30
          }

          liveness_probe {
            http_get {
              path = "/liveness"
              port = "9090"
            }
            period_seconds = 30
          }

          resources {
            requests = var.proxy_resources.requests
            limits   = var.proxy_resources.limits
          }

          security_context {
            allow_privilege_escalation = false
            read_only_root_filesystem  = true
            run_as_user                = "65532"
            capabilities {
              drop = ["ALL"]
            }
          }
        }

        init_container {
          name    = "db-upgrade"
          image   = var.mlflow_image
          command = ["mlflow"]
          args    = ["db", "upgrade", "$(MLFLOW_BACKEND_STORE_URI)"]

          env {
            name  = "MLFLOW_BACKEND_STORE_URI"
            value = local.backend_store_uri
          }
          env {
            name  = "HOME"
            value = "/tmp"
          }

          resources {
            requests = var.server_resources.requests
            limits   = var.server_resources.limits
          }

          security_context {
            allow_privilege_escalation = false
            read_only_root_filesystem  = true
            capabilities {
              drop = ["ALL"]
            }
          }

          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
          }
        }

        container {
          name    = "mlflow"
          image   = var.mlflow_image
          command = ["mlflow"]
          args    = var.server_args

          dynamic "env" {
            for_each = local.server_env
            content {
              name  = env.key
              value = env.value
            }
          }

          port {
            name           = "http"
            container_port = local.port
          }

          startup_probe {
            http_get {
              path = local.health
              port = tostring(local.port)
            }
            period_seconds    = 5
            failure_threshold = 36
          }

          readiness_probe {
            http_get {
              path = local.health
              port = tostring(local.port)
            }
            period_seconds = 10
          }

          liveness_probe {
            http_get {
              path = local.health
              port = tostring(local.port)
            }
            period_seconds    = 20
            timeout_seconds   = 5
            failure_threshold = 3
          }

          resources {
            requests = var.server_resources.requests
            limits   = var.server_resources.limits
          }

          security_context {
            allow_privilege_escalation = false
            read_only_root_filesystem  = true
            capabilities {
              drop = ["ALL"]
            }
          }

          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
          }
        }

        volume {
          name = "tmp"
          empty_dir {
            size_limit = "1Gi"
          }
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = local.static_prefix_arg == local.prefix
      error_message = "server_args of ${var.name} must pass --static-prefix ${local.prefix}."
    }
    precondition {
      condition     = local.artifacts_arg == "gs://${var.artifact_bucket}/${var.name}"
      error_message = "server_args of ${var.name} must pass --artifacts-destination gs://${var.artifact_bucket}/${var.name} (its managed folder)."
    }
  }

  depends_on = [kubernetes_job_v1.db_setup, google_storage_managed_folder_iam_member.this]
}

resource "kubernetes_service_v1" "this" {
  count = local.active ? 1 : 0

  metadata {
    name      = local.app
    namespace = kubernetes_namespace_v1.this[0].metadata[0].name
    labels    = local.labels
  }

  spec {
    type     = "ClusterIP"
    selector = local.labels

    port {
      name        = "http"
      port        = local.port
      target_port = "http"
      protocol    = "TCP"
    }
  }
}

# Only the load balancer's front ends and health checkers reach the server: other
# tenants' pods cannot bypass IAP.
resource "kubernetes_network_policy_v1" "this" {
  count = local.active ? 1 : 0

  metadata {
    name      = "mlflow-from-load-balancer"
    namespace = kubernetes_namespace_v1.this[0].metadata[0].name
    labels    = local.labels
  }

  spec {
    pod_selector {
      match_labels = local.labels
    }
    policy_types = ["Ingress"]

    ingress {
      dynamic "from" {
        for_each = var.lb_source_ranges
        content {
          ip_block {
            cidr = from.value
          }
        }
      }
      ports {
        port     = tostring(local.port)
        protocol = "TCP"
      }
    }
  }
}

resource "kubernetes_manifest" "route" {
  count = local.active ? 1 : 0

  manifest = {
    apiVersion = "gateway.networking.k8s.io/v1"
    kind       = "HTTPRoute"
    metadata = {
      name      = local.app
      namespace = kubernetes_namespace_v1.this[0].metadata[0].name
      labels    = local.labels
    }
    spec = {
      parentRefs = [{
        name        = var.gateway_name
        namespace   = var.gateway_namespace
        sectionName = var.gateway_listener
      }]
      hostnames = [var.domain]
      rules = [{
        matches = [{
          path = { type = "PathPrefix", value = local.prefix }
        }]
        backendRefs = [{
          name = kubernetes_service_v1.this[0].metadata[0].name
          port = local.port
        }]
      }]
    }
  }
}

resource "kubernetes_manifest" "backend_policy" {
  count = local.active ? 1 : 0

  manifest = {
    apiVersion = "networking.gke.io/v1"
    kind       = "GCPBackendPolicy"
    metadata = {
      name      = local.app
      namespace = kubernetes_namespace_v1.this[0].metadata[0].name
      labels    = local.labels
    }
    spec = {
      default = {
        timeoutSec = var.backend_timeout_sec
        iap = {
          enabled  = true
          clientID = var.iap_oauth_client_id
          oauth2ClientSecret = {
            name = kubernetes_secret_v1.iap[0].metadata[0].name
          }
        }
      }
      targetRef = {
        group = ""
        kind  = "Service"
        name  = kubernetes_service_v1.this[0].metadata[0].name
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.iap_oauth_client_id != "" && nonsensitive(var.iap_oauth_client_secret != "")
      error_message = "IAP needs the OAuth client: set iap_oauth_client_id and TF_VAR_iap_oauth_client_secret (mlflowk8s init --oauth-client-secret FILE)."
    }
  }
}

# The default health check asks for "/", which is 404 under a static prefix.
resource "kubernetes_manifest" "health_check" {
  count = local.active ? 1 : 0

  manifest = {
    apiVersion = "networking.gke.io/v1"
    kind       = "HealthCheckPolicy"
    metadata = {
      name      = local.app
      namespace = kubernetes_namespace_v1.this[0].metadata[0].name
      labels    = local.labels
    }
    spec = {
      default = {
        checkIntervalSec   = 15
        timeoutSec         = 5
        healthyThreshold   = 1
        unhealthyThreshold = 3
        config = {
          type = "HTTP"
          httpHealthCheck = {
            port        = local.port
            requestPath = local.health
            # A host in the server's --allowed-hosts (the domain is always there).
            host = var.domain
          }
        }
      }
      targetRef = {
        group = ""
        kind  = "Service"
        name  = kubernetes_service_v1.this[0].metadata[0].name
      }
    }
  }
}

# Path-conditioned IAP access: backend services are named by the GKE controller and
# cannot be referenced here, so access is granted on the project's IAP web resources
# with a condition on this tenant's host and path.
resource "google_iap_web_iam_member" "access" {
  for_each = local.active ? toset(var.members) : toset([])

  project = var.project_id
  role    = "roles/iap.httpsResourceAccessor"
  member  = each.value

  condition {
    title       = "mlflow-${var.environment}-${var.name}"
    description = "MLflow tenant ${var.name} at https://${var.domain}${local.prefix}/"
    expression  = local.iap_condition
  }
}
