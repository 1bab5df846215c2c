# Routing and IAP while the tenant is active: the route on /<name> of the shared Gateway,
# IAP on its backend, the health check under the static prefix, and IAP access for the
# tenant's members only.

locals {
  # IAP access to this tenant's path only, on this environment's host only.
  iap_condition = "request.host == \"${var.domain}\" && (request.path == \"${local.prefix}\" || request.path.startsWith(\"${local.prefix}/\"))"

  service_ref = one(kubernetes_service_v1.this[*].metadata[0].name)
}

resource "kubernetes_secret_v1" "iap" {
  count = local.active ? 1 : 0

  metadata {
    name      = "iap-oauth-client"
    namespace = local.namespace_ref
    labels    = local.labels
  }

  # GCPBackendPolicy reads the secret from the key "key".
  data = {
    key = var.iap_oauth_client_secret
  }
}

resource "kubernetes_manifest" "route" {
  count = local.active ? 1 : 0

  manifest = {
    apiVersion = "gateway.networking.k8s.io/v1"
    kind       = "HTTPRoute"
    metadata = {
      name      = local.app
      namespace = local.namespace_ref
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
          name = local.service_ref
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
      namespace = local.namespace_ref
      labels    = local.labels
    }
    spec = {
      default = {
        timeoutSec = var.backend_timeout_sec
        iap = {
          enabled  = true
          clientID = var.iap_oauth_client_id
          oauth2ClientSecret = {
            name = one(kubernetes_secret_v1.iap[*].metadata[0].name)
          }
        }
      }
      targetRef = {
        group = ""
        kind  = "Service"
        name  = local.service_ref
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
      namespace = local.namespace_ref
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
          # No port: the CRD allows port/portName only with portSpecification
          # USE_FIXED_PORT; the default USE_SERVING_PORT checks the Service's port.
          httpHealthCheck = {
            requestPath = local.health
            # A host in the server's --allowed-hosts (the domain is always there).
            host = var.domain
          }
        }
      }
      targetRef = {
        group = ""
        kind  = "Service"
        name  = local.service_ref
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
