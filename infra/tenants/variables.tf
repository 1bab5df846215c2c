# Contract with the CLI: tenants.tfvars.json (below, first block) plus
# platform-outputs.tfvars.json (one variable per platform output, second block).

variable "project_id" {
  description = "Google Cloud project id."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid project id (6-30 lowercase letters, digits, hyphens)."
  }
}

variable "region" {
  description = "Region of the platform."
  type        = string
}

variable "domain" {
  description = "The lab's public host name."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain))
    error_message = "domain must be a lowercase fully qualified host name such as mlflow.lab.org."
  }
}

variable "environment" {
  description = "Environment name (part of project-wide resource names)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.environment))
    error_message = "environment must match ^[a-z][a-z0-9-]{0,11}$."
  }
}

variable "mlflow_image" {
  description = "MLflow server image (with psycopg2 and google-cloud-storage), pinned by digest; `mlflowk8s init` pins ghcr.io/mlflow/mlflow:vX-full. A ghcr.io image is pulled through the platform's image_registry."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$", var.mlflow_image))
    error_message = "mlflow_image must be pinned by digest (REGISTRY/OWNER/NAME[:TAG]@sha256:<64 hex>)."
  }
}

variable "iap_oauth_client_id" {
  description = "Client id of the custom IAP OAuth client (created by the admin in the console)."
  type        = string
}

variable "iap_oauth_client_secret" {
  description = "Its secret; passed only as env TF_VAR_iap_oauth_client_secret, never in a file."
  type        = string
  sensitive   = true
  default     = ""
}

variable "users" {
  description = "Tenants keyed by user name. server_command/server_env, ready_path, static_prefix and artifacts_destination come from the CLI's server command (src/mlflowk8s/server.py); retired tenants keep their data."
  type = map(object({
    members = optional(list(string), [])
    retired = optional(bool, false)
    # The container's whole argv (python -c <launcher source> <flags>) and its environment.
    server_command = list(string)
    server_env     = optional(map(string), {})
    # Facts of the rendered server that Terraform checks (the route, probes and folder
    # follow the name); null when the CLI did not render them, which the tenant module
    # refuses.
    ready_path            = optional(string)
    static_prefix         = optional(string)
    artifacts_destination = optional(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for name in keys(var.users) : can(regex("^[a-z]([a-z0-9-]*[a-z0-9])?$", name)) && length(name) <= 20])
    error_message = "user names must match ^[a-z]([a-z0-9-]*[a-z0-9])?$ and be at most 20 characters."
  }

  # The tenant's IAM database user is mlf-<name>-<4 hex>@<project_id>.iam, and PostgreSQL
  # role names stop at 63 characters.
  validation {
    condition     = alltrue([for name in keys(var.users) : length("mlf-${name}-0000@${var.project_id}.iam") <= 63])
    error_message = "user name and project_id together must be at most 49 characters: the tenant's IAM database user (mlf-<name>-<hash>@<project_id>.iam) must fit PostgreSQL's 63."
  }

  validation {
    condition     = alltrue(flatten([for u in values(var.users) : [for m in u.members : can(regex("^(user|group|serviceAccount|domain):.+", m))]]))
    error_message = "members must start with user:, group:, serviceAccount: or domain:."
  }
}

variable "cloudsql_proxy_image" {
  description = "Cloud SQL Auth Proxy v2 image."
  type        = string
  default     = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3"
}

variable "backend_timeout_sec" {
  description = "Load balancer backend timeout in seconds (large artifact uploads)."
  type        = number
  default     = 1800

  validation {
    condition     = var.backend_timeout_sec >= 30 && var.backend_timeout_sec <= 86400
    error_message = "backend_timeout_sec must be between 30 and 86400."
  }
}

variable "server_resources" {
  description = "Requests and limits of every tenant's MLflow container, sized by the CLI (src/mlflowk8s/sizing.py; the default is its value, tests/infra holds them equal): the request holds the server, the memory limit the largest buffered upload."
  type = object({
    requests = map(string)
    limits   = map(string)
  })
  default = {
    requests = { cpu = "50m", memory = "320Mi" }
    limits   = { cpu = "1000m", memory = "1408Mi" }
  }
}

variable "proxy_resources" {
  description = "Requests and limits of every tenant's Cloud SQL Auth Proxy sidecar (src/mlflowk8s/sizing.py; the default is its value)."
  type = object({
    requests = map(string)
    limits   = map(string)
  })
  default = {
    requests = { cpu = "20m", memory = "32Mi" }
    limits   = { cpu = "500m", memory = "128Mi" }
  }
}

variable "tmp_size_limit" {
  description = "Size of every tenant's /tmp (emptyDir), where uploads are staged (src/mlflowk8s/sizing.py; the default is its value)."
  type        = string
  default     = "640Mi"

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.tmp_size_limit))
    error_message = "tmp_size_limit must be a quantity in Mi or Gi such as 640Mi."
  }
}

# --- platform outputs (platform-outputs.tfvars.json) ---------------------------------

variable "cluster_name" {
  description = "Platform output: GKE cluster name."
  type        = string
}

variable "cluster_location" {
  description = "Platform output: GKE cluster location."
  type        = string
}

variable "cluster_endpoint" {
  description = "Platform output: GKE control-plane endpoint."
  type        = string
}

variable "cluster_ca_certificate" {
  description = "Platform output: base64 cluster CA certificate."
  type        = string
}

variable "sql_instance_connection_name" {
  description = "Platform output: Cloud SQL connection name."
  type        = string
}

variable "sql_instance_name" {
  description = "Platform output: Cloud SQL instance name."
  type        = string
}

variable "artifact_bucket" {
  description = "Platform output: artifact bucket."
  type        = string
}

variable "gateway_ip_address" {
  description = "Platform output: the Gateway's static IP."
  type        = string
}

variable "gateway_ip_name" {
  description = "Platform output: name of the Gateway's static IP."
  type        = string
}

variable "certificate_map_name" {
  description = "Platform output: Certificate Manager map of the Gateway."
  type        = string
}

variable "dns_name_servers" {
  description = "Platform output: name servers of the managed zone ([] when none)."
  type        = list(string)
  default     = []
}

variable "certificate_dns_authorization" {
  description = "Platform output: the certificate's DNS authorization record."
  type = object({
    name = string
    type = string
    data = string
  })
  default = { name = "", type = "", data = "" }
}

variable "image_registry" {
  description = "Platform output: the ghcr.io pull-through repository REGION-docker.pkg.dev/PROJECT/REPO."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]+-docker\\.pkg\\.dev/[a-z][a-z0-9-]+/[a-z][a-z0-9-]*$", var.image_registry))
    error_message = "image_registry must look like REGION-docker.pkg.dev/PROJECT/REPOSITORY."
  }
}
