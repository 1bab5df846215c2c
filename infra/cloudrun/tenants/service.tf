# --- the tenant's tracking server (active only) ----------------------------------------
# IAP directly on the service (no load balancer, domain or certificate), scaled to zero,
# one instance at most (one writer per tenant database), request-based billing.

locals {
  # Each active tenant's --allowed-hosts entries as the CLI rendered them ([""] if absent:
  # the precondition on the deterministic host then says what is missing).
  allowed_hosts = {
    for name, u in local.active : name => split(",", try(u.server.args[index(u.server.args, "--allowed-hosts") + 1], ""))
  }
  # The only wildcards a tenant may accept: its own hosts with any port, and its legacy
  # <service>-<hash>-<region code>.a.run.app (the hash is known only once the service
  # exists). Never *.a.run.app or *.run.app: those are every Cloud Run service's.
  legacy_host = { for name, t in local.tenants : name => "${t.service}-*.a.run.app" }
  host_patterns = {
    for name, t in local.tenants : name => [
      "${t.host}:*", local.legacy_host[name], "${local.legacy_host[name]}:*", "localhost:*", "127.0.0.1:*",
    ]
  }
}

resource "google_cloud_run_v2_service" "tenant" {
  for_each = local.active

  project  = var.project_id
  location = var.region
  name     = local.tenants[each.key].service
  labels   = { "mlflowk8s-tenant" = each.key }

  # Reachable from the internet only through IAP: the invoker role goes to the IAP
  # service agent alone (access.tf), members get roles/iap.httpsResourceAccessor.
  ingress              = "INGRESS_TRAFFIC_ALL"
  iap_enabled          = true
  invoker_iam_disabled = false
  # The provider's default (true) would block retiring a tenant; its data lives elsewhere.
  deletion_protection = false

  template {
    service_account                  = google_service_account.tenant[each.key].email
    timeout                          = "3600s" # long artifact uploads and downloads
    max_instance_request_concurrency = var.max_request_concurrency
    labels                           = { "mlflowk8s-tenant" = each.key }

    scaling {
      min_instance_count = 0
      max_instance_count = 1
    }

    containers {
      name    = "mlflow"
      image   = local.mlflow_image
      command = local.active[each.key].server.command
      args    = local.active[each.key].server.args
      # Starts once the proxy accepts connections (its startup probe passed).
      depends_on = ["cloud-sql-proxy"]

      # CLI-rendered env first; the Terraform-owned backend store wins.
      dynamic "env" {
        for_each = merge(local.active[each.key].server.env, { MLFLOW_BACKEND_STORE_URI = local.backend_store_uri[each.key] })
        content {
          name  = env.key
          value = env.value
        }
      }

      ports {
        container_port = var.server_port
      }

      resources {
        limits            = { cpu = var.server_resources.cpu, memory = var.server_resources.memory }
        cpu_idle          = true # request-based billing: an idle tenant costs nothing
        startup_cpu_boost = true # shorter cold starts
      }

      # TCP, so the probe needs neither a path nor a Host in --allowed-hosts.
      startup_probe {
        tcp_socket {
          port = var.server_port
        }
        period_seconds    = 2
        timeout_seconds   = 1
        failure_threshold = 120
      }
    }

    containers {
      name  = "cloud-sql-proxy"
      image = var.cloudsql_proxy_image
      args  = concat(local.proxy_flags, [var.sql_instance_connection_name])

      startup_probe {
        tcp_socket {
          port = local.db_port
        }
        period_seconds    = 1
        timeout_seconds   = 1
        failure_threshold = 60
      }

      resources {
        limits   = { cpu = var.proxy_resources.cpu, memory = var.proxy_resources.memory }
        cpu_idle = true
      }
    }
  }

  lifecycle {
    # Guards on what the CLI rendered (not a parse: the args stay the CLI's).
    precondition {
      condition     = anytrue([for a in local.active[each.key].server.args : strcontains(a, local.tenants[each.key].host)])
      error_message = "the server args of ${each.key} must name https://${local.tenants[each.key].host} in --allowed-hosts."
    }
    precondition {
      condition     = contains(local.allowed_hosts[each.key], local.legacy_host[each.key])
      error_message = "the server args of ${each.key} must allow its legacy host ${local.legacy_host[each.key]} in --allowed-hosts (requests to it get 403 otherwise)."
    }
    precondition {
      condition     = alltrue([for h in local.allowed_hosts[each.key] : !strcontains(h, "*") || contains(local.host_patterns[each.key], h)])
      error_message = "the --allowed-hosts of ${each.key} may hold wildcards only for its own hosts (${join(", ", local.host_patterns[each.key])})."
    }
    precondition {
      condition     = anytrue([for a in local.active[each.key].server.args : strcontains(a, "gs://${var.artifact_bucket}/${each.key}")])
      error_message = "the server args of ${each.key} must store artifacts in gs://${var.artifact_bucket}/${each.key} (its managed folder)."
    }
  }

  # Serving starts with everything a request can need: schema, folder, signing.
  depends_on = [
    google_cloud_run_v2_job.upgrade,
    google_storage_managed_folder_iam_member.tenant,
    google_service_account_iam_member.self_signing,
  ]
}
