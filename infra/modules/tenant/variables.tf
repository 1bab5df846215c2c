variable "project_id" {
  description = "Project of the tenant's Google resources."
  type        = string
}

variable "environment" {
  description = "Environment name (part of the Google service account id, which is project-wide)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.environment))
    error_message = "environment must match ^[a-z][a-z0-9-]{0,11}$."
  }
}

variable "name" {
  description = "Tenant (user) name: the URL path /<name>/ and the root of every per-tenant name."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]*[a-z0-9])?$", var.name)) && length(var.name) <= 20
    error_message = "name must match ^[a-z]([a-z0-9-]*[a-z0-9])?$ and be at most 20 characters."
  }
}

variable "domain" {
  description = "Public host name of the service."
  type        = string
}

variable "members" {
  description = "IAM members (user:, group:, serviceAccount:, domain:) allowed through IAP to this tenant's path."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.members : can(regex("^(user|group|serviceAccount|domain):.+", m))])
    error_message = "each member must start with user:, group:, serviceAccount: or domain:."
  }
}

variable "retired" {
  description = "A retired tenant keeps its database, database user, Google service account and managed folder; everything in the cluster and its IAP access go."
  type        = bool
  default     = false
}

variable "server_command" {
  description = "The server container's whole argv (python -c <launcher source> <flags>), rendered by the CLI (src/mlflowk8s/server.py)."
  type        = list(string)

  validation {
    condition     = length(var.server_command) > 0
    error_message = "server_command must not be empty."
  }
}

variable "ready_path" {
  description = "The launcher's readiness route as the CLI rendered it (src/mlflowk8s/server.py: it reads the store); checked to be under /<name>/."
  type        = string
}

variable "static_prefix" {
  description = "The server's static prefix as the CLI rendered it (src/mlflowk8s/server.py); checked to be /<name>."
  type        = string
}

variable "artifacts_destination" {
  description = "The server's artifact destination as the CLI rendered it; checked to be gs://<artifact_bucket>/<name>."
  type        = string
}

variable "server_env" {
  description = "Environment of the server, rendered by the CLI; Terraform adds MLFLOW_BACKEND_STORE_URI."
  type        = map(string)
  default     = {}
}

variable "mlflow_image" {
  description = "MLflow image (with psycopg2 and google-cloud-storage), pinned by digest."
  type        = string

  validation {
    condition     = strcontains(var.mlflow_image, "@sha256:")
    error_message = "mlflow_image must be pinned by digest (contain @sha256:)."
  }
}

variable "cloudsql_proxy_image" {
  description = "Cloud SQL Auth Proxy v2 image."
  type        = string
}

variable "sql_instance_name" {
  description = "Cloud SQL instance name."
  type        = string
}

variable "sql_instance_connection_name" {
  description = "Cloud SQL connection name PROJECT:REGION:INSTANCE."
  type        = string
}

variable "artifact_bucket" {
  description = "Shared artifact bucket; the tenant's managed folder is <name>/."
  type        = string
}

variable "gateway_name" {
  description = "Name of the shared Gateway."
  type        = string
}

variable "gateway_namespace" {
  description = "Namespace of the shared Gateway."
  type        = string
}

variable "gateway_listener" {
  description = "Listener (sectionName) of the shared Gateway the route attaches to."
  type        = string
  default     = "https"
}

variable "iap_oauth_client_id" {
  description = "OAuth client id IAP uses for this tenant's backend."
  type        = string
}

variable "iap_oauth_client_secret" {
  description = "OAuth client secret IAP uses for this tenant's backend."
  type        = string
  sensitive   = true
}

variable "backend_timeout_sec" {
  description = "Load balancer backend timeout: artifact uploads are proxied and buffered by the server, so large ones need minutes."
  type        = number
  default     = 1800
}

variable "db_setup_namespace" {
  description = "Namespace of the database setup Job (where the DB admin Kubernetes service account lives)."
  type        = string
}

variable "db_setup_service_account" {
  description = "Kubernetes service account of the database setup Job (Workload Identity for the DB admin)."
  type        = string
}

variable "db_admin_user" {
  description = "IAM database user of the DB admin service account (EMAIL without .gserviceaccount.com)."
  type        = string
}

variable "server_resources" {
  description = "Requests and limits of the MLflow container, sized by the CLI (src/mlflowk8s/sizing.py; the default is its value, tests/infra holds them equal): the request holds the launcher (~296 MiB resident), the memory limit the largest upload it buffers (twice the file)."
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
  description = "Requests and limits of the Cloud SQL Auth Proxy sidecar (src/mlflowk8s/sizing.py; the default is its value)."
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
  description = "Size of the server's /tmp (emptyDir), sized by the CLI (src/mlflowk8s/sizing.py; the default is its value): an upload is staged there whole before it goes to the bucket."
  type        = string
  default     = "640Mi"
}

variable "lb_source_ranges" {
  description = "Source ranges of Google's front ends and health checkers (global external Application Load Balancer), the only ones allowed to reach the server."
  type        = list(string)
  default     = ["35.191.0.0/16", "130.211.0.0/22"]
}
