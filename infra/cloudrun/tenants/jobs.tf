# --- per-tenant database setup and schema upgrade (active only) ------------------------
# Cloud Run jobs that `apply` runs and waits for (run_execution_token: the job becomes
# ready when that execution has completed). The token is a short hash of what the job
# runs (image digest + script/command), so a job runs again exactly when that changes, and
# on every (re)creation, e.g. when a retired user comes back.
#
# Two resources, not one over user x kind: the upgrade runs as the tenant and needs the
# database the setup gives it, so it must wait for the setup; Terraform orders resources,
# never the instances of one resource (they would run at once).

locals {
  # Auth Proxy flags shared by services and jobs. --lazy-refresh: with request-based
  # billing the CPU is throttled between requests, so background certificate refreshes
  # would stall. --address=0.0.0.0: Cloud Run's TCP startup probe does not necessarily
  # come over loopback; only the ingress container's port is reachable from outside an
  # instance, so the proxy stays private to it.
  proxy_flags = [
    "--auto-iam-authn",
    "--lazy-refresh",
    "--structured-logs",
    "--address=0.0.0.0",
    "--port=${local.db_port}",
  ]

  # Whether Cloud Run stops a job's sidecars once the main container has exited is not
  # documented, and the Auth Proxy never exits on its own, so an execution could run
  # until its timeout. The proxy's documented way out for batch jobs: --quitquitquit on
  # its localhost admin port. The job's container runs its command, then asks the proxy
  # to quit whatever the outcome, and exits with the command's status.
  job_proxy_flags = ["--quitquitquit", "--admin-port=${local.admin_port}", "--exit-zero-on-sigterm"]
  run_then_stop_proxy = join("\n", [
    "\"$@\"",
    "status=$?",
    "python -c \"$STOP_PROXY\" || echo 'could not stop the Cloud SQL Auth Proxy' >&2",
    "exit $status",
  ])
  stop_proxy = "import urllib.request as r; r.urlopen(r.Request('http://127.0.0.1:${local.admin_port}/quitquitquit', method='POST'), timeout=10)"

  setup_token   = substr(sha256("${local.image_digest}\n${local.db_setup_script}"), 0, 8)
  upgrade_token = substr(sha256("${local.image_digest}\nmlflow db upgrade"), 0, 8)

  backend_store_uri = {
    for name, t in local.tenants : name => "postgresql+psycopg2://${urlencode(t.db_user)}@127.0.0.1:${local.db_port}/${t.database}"
  }
}

# Run as the DB admin: the tenant's IAM user gets its own database, PUBLIC loses CONNECT.
resource "google_cloud_run_v2_job" "setup" {
  for_each = local.active

  project             = var.project_id
  location            = var.region
  name                = "${local.tenants[each.key].service}-setup"
  deletion_protection = false
  run_execution_token = local.setup_token
  labels              = { "mlflowk8s-tenant" = each.key }

  template {
    task_count  = 1
    parallelism = 1

    template {
      service_account = google_service_account.db_admin.email
      timeout         = "600s"
      max_retries     = 2

      containers {
        name       = "setup"
        image      = local.mlflow_image
        command    = ["/bin/sh", "-c", local.run_then_stop_proxy, "db-setup"]
        args       = ["python", "-c", local.db_setup_script]
        depends_on = ["cloud-sql-proxy"]

        env {
          name  = "ADMIN_DB_USER"
          value = google_sql_user.db_admin.name
        }
        env {
          name  = "TENANT_DATABASE"
          value = google_sql_database.tenant[each.key].name
        }
        env {
          name  = "TENANT_DB_USER"
          value = google_sql_user.tenant[each.key].name
        }
        env {
          name  = "STOP_PROXY"
          value = local.stop_proxy
        }

        resources {
          limits = { cpu = var.server_resources.cpu, memory = var.server_resources.memory }
        }
      }

      containers {
        name  = "cloud-sql-proxy"
        image = var.cloudsql_proxy_image
        args  = concat(local.proxy_flags, local.job_proxy_flags, [var.sql_instance_connection_name])

        startup_probe {
          tcp_socket {
            port = local.db_port
          }
          period_seconds    = 2
          timeout_seconds   = 1
          failure_threshold = 60
        }

        resources {
          limits = { cpu = var.proxy_resources.cpu, memory = var.proxy_resources.memory }
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = length("${local.tenants[each.key].service}-setup") + length(local.setup_token) < 63
      error_message = "job name plus execution token must be fewer than 63 characters (user ${each.key})."
    }
  }

  depends_on = [google_project_iam_member.db_admin]
}

# Run as the tenant (it owns the tables): `mlflow db upgrade` before the server starts.
resource "google_cloud_run_v2_job" "upgrade" {
  for_each = local.active

  project             = var.project_id
  location            = var.region
  name                = "${local.tenants[each.key].service}-upgrade"
  deletion_protection = false
  run_execution_token = local.upgrade_token
  labels              = { "mlflowk8s-tenant" = each.key }

  template {
    task_count  = 1
    parallelism = 1

    template {
      service_account = google_service_account.tenant[each.key].email
      timeout         = "900s"
      max_retries     = 1

      containers {
        name       = "db-upgrade"
        image      = local.mlflow_image
        command    = ["/bin/sh", "-c", local.run_then_stop_proxy, "db-upgrade"]
        args       = ["mlflow", "db", "upgrade", local.backend_store_uri[each.key]]
        depends_on = ["cloud-sql-proxy"]

        env {
          name  = "MLFLOW_DISABLE_TELEMETRY"
          value = "true"
        }
        env {
          name  = "STOP_PROXY"
          value = local.stop_proxy
        }

        resources {
          limits = { cpu = var.server_resources.cpu, memory = var.server_resources.memory }
        }
      }

      containers {
        name  = "cloud-sql-proxy"
        image = var.cloudsql_proxy_image
        args  = concat(local.proxy_flags, local.job_proxy_flags, [var.sql_instance_connection_name])

        startup_probe {
          tcp_socket {
            port = local.db_port
          }
          period_seconds    = 2
          timeout_seconds   = 1
          failure_threshold = 60
        }

        resources {
          limits = { cpu = var.proxy_resources.cpu, memory = var.proxy_resources.memory }
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = length("${local.tenants[each.key].service}-upgrade") + length(local.upgrade_token) < 63
      error_message = "job name plus execution token must be fewer than 63 characters (user ${each.key})."
    }
  }

  depends_on = [google_cloud_run_v2_job.setup, google_project_iam_member.tenant_sql]
}
