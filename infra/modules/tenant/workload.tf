# The tenant's server while it is active: namespace, Deployment (Auth Proxy sidecar,
# `mlflow db upgrade`, the launcher), Service, and the NetworkPolicy that admits only the
# load balancer.

locals {
  # CLI-rendered env first; the Terraform-owned entries win. HOME and USER: the official
  # image runs as root unless told otherwise; the pod forces uid 1000, which has no passwd
  # entry there, under a read-only root filesystem (only /tmp is writable).
  server_env = merge(
    { HOME = "/tmp", USER = "mlflow" },
    var.server_env,
    { MLFLOW_BACKEND_STORE_URI = local.backend_store_uri },
  )

  artifacts_destination = "gs://${var.artifact_bucket}/${var.name}"
}

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

  # Deleting a namespace waits for every object in it (the load balancer's NEGs take
  # minutes to detach); the provider's 5-minute default fails retiring a tenant.
  timeouts {
    delete = "20m"
  }
}

resource "kubernetes_deployment_v1" "this" {
  count = local.active ? 1 : 0

  metadata {
    name      = local.app
    namespace = local.namespace_ref
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

        # Ready before `mlflow db upgrade` and the server start (local.auth_proxy).
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

        # The launcher (src/mlflowk8s/launcher.py) as `python -c`: one process serving
        # MLflow's app with the tenant's flags, keep-alive and forwarded-allow-ips included.
        container {
          name    = "mlflow"
          image   = var.mlflow_image
          command = var.server_command

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

          # Ready only when the store answers (the launcher's route runs a one-row search
          # and answers 503 after its own 10 s); alive while the process answers at all.
          readiness_probe {
            http_get {
              path = var.ready_path
              port = tostring(local.port)
            }
            period_seconds  = 15
            timeout_seconds = 12
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
            size_limit = var.tmp_size_limit
          }
        }
      }
    }
  }

  lifecycle {
    # The route, probes and health check serve /<name>, the folder's IAM covers <name>/:
    # a server rendered for anything else would be unreachable or write elsewhere.
    precondition {
      condition     = var.static_prefix == local.prefix
      error_message = "the server of ${var.name} is rendered with static prefix ${coalesce(var.static_prefix, "(none)")}; it must be ${local.prefix}."
    }
    precondition {
      condition     = startswith(coalesce(var.ready_path, "(none)"), "${local.prefix}/")
      error_message = "the server of ${var.name} is rendered with readiness path ${coalesce(var.ready_path, "(none)")}; it must be under ${local.prefix}/."
    }
    precondition {
      condition     = var.artifacts_destination == local.artifacts_destination
      error_message = "the server of ${var.name} is rendered with artifact destination ${coalesce(var.artifacts_destination, "(none)")}; it must be ${local.artifacts_destination} (its managed folder)."
    }
  }

  # The pod signs in to Cloud SQL and the bucket as the tenant's Google service account:
  # after its Workload Identity binding (module.identity), not only after the grants.
  depends_on = [
    kubernetes_job_v1.db_setup,
    google_storage_managed_folder_iam_member.this,
    google_project_iam_member.sql,
    module.identity,
  ]
}

resource "kubernetes_service_v1" "this" {
  count = local.active ? 1 : 0

  metadata {
    name      = local.app
    namespace = local.namespace_ref
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
    namespace = local.namespace_ref
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
