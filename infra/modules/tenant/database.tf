# Access to the database while the tenant is active: the Cloud SQL roles of its service
# account and the Job that gives its IAM database user its own database.

locals {
  sql_condition = "resource.name == \"projects/${var.project_id}/instances/${var.sql_instance_name}\" && resource.service == \"sqladmin.googleapis.com\""

  # Through the Auth Proxy sidecar (--auto-iam-authn): no password in the URI.
  backend_store_uri = "postgresql+psycopg2://${urlencode(local.db_user)}@127.0.0.1:5432/${local.database}"

  # The Cloud SQL Auth Proxy v2, one definition for the setup Job and the server's pod: a
  # native sidecar (an init container that keeps running) on 127.0.0.1:5432, signing in
  # as the pod's service account on the instance's private IP.
  auth_proxy = {
    name  = "cloud-sql-proxy"
    image = var.cloudsql_proxy_image
    args = [
      "--private-ip",
      "--auto-iam-authn",
      "--structured-logs",
      "--port=5432",
      "--health-check",
      "--http-address=0.0.0.0",
      "--http-port=9090",
      # A stopped pod (Job done, rollout) is no failure of the proxy.
      "--exit-zero-on-sigterm",
      var.sql_instance_connection_name,
    ]
    health_port = "9090"
    resources   = var.proxy_resources
    run_as_user = "65532"
  }
}

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
    # A new Workload Identity binding can take minutes to reach the cluster: retries with
    # backoff (10 s doubling, capped at 6 min) keep trying for well over 7 minutes.
    backoff_limit           = 6
    active_deadline_seconds = 1200

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

        # Starts first, stops when the setup container has finished.
        dynamic "init_container" {
          for_each = [local.auth_proxy]
          content {
            name           = init_container.value.name
            image          = init_container.value.image
            restart_policy = "Always"
            args           = init_container.value.args

            startup_probe {
              http_get {
                path = "/startup"
                port = init_container.value.health_port
              }
              period_seconds    = 2
              failure_threshold = 30
            }

            liveness_probe {
              http_get {
                path = "/liveness"
                port = init_container.value.health_port
              }
              period_seconds = 30
            }

            resources {
              requests = init_container.value.resources.requests
              limits   = init_container.value.resources.limits
            }

            security_context {
              allow_privilege_escalation = false
              read_only_root_filesystem  = true
              run_as_user                = init_container.value.run_as_user
              capabilities {
                drop = ["ALL"]
              }
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
    create = "25m"
    update = "25m"
  }

  # The Job signs in as the DB admin (the tenants root orders it after its binding); the
  # tenant's own grants must exist before its database is handed over.
  depends_on = [google_project_iam_member.sql]
}
