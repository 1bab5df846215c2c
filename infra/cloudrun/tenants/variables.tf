# Contract with the CLI: cloudrun-tenants.tfvars.json (first block) plus
# cloudrun-platform-outputs.tfvars.json (one variable per platform output, second block).

variable "project_id" {
  description = "Google Cloud project id."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid project id (6-30 lowercase letters, digits, hyphens)."
  }
}

variable "environment" {
  description = "Environment name (part of every project-wide name: services, jobs, service accounts)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.environment))
    error_message = "environment must match ^[a-z][a-z0-9-]{0,11}$."
  }
}

variable "mlflow_image" {
  description = "MLflow server image on ghcr.io (with psycopg2 and google-cloud-storage), pinned by digest: ghcr.io/mlflow/mlflow[:vX-full]@sha256:…; it is pulled through the platform's image_registry."
  type        = string

  validation {
    condition     = can(regex("^ghcr\\.io/[a-z0-9._/-]+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$", var.mlflow_image))
    error_message = "mlflow_image must be a ghcr.io image pinned by digest (ghcr.io/OWNER/NAME[:TAG]@sha256:<64 hex>)."
  }
}

variable "users" {
  description = <<-EOT
    Tenants keyed by user name. members: IAM members let through IAP; retired: keep only the
    data (service account, database, database user, managed folder); server: the tenant
    server's command, args and env rendered by the CLI (src/mlflowk8s/server.py, with
    --allowed-hosts naming the tenant's run.app host), required unless retired.
  EOT
  type = map(object({
    members = optional(list(string), [])
    retired = optional(bool, false)
    server = optional(object({
      command = list(string)
      args    = list(string)
      env     = optional(map(string), {})
    }))
  }))
  default = {}

  validation {
    condition     = alltrue([for name in keys(var.users) : can(regex("^[a-z]([a-z0-9-]*[a-z0-9])?$", name)) && length(name) <= 20])
    error_message = "user names must match ^[a-z]([a-z0-9-]*[a-z0-9])?$ and be at most 20 characters."
  }

  # Nothing public: allUsers and allAuthenticatedUsers do not match.
  validation {
    condition     = alltrue(flatten([for u in values(var.users) : [for m in u.members : can(regex("^(user|group|serviceAccount|domain):[^\\s]+$", m))]]))
    error_message = "members must start with user:, group:, serviceAccount: or domain: (allUsers and allAuthenticatedUsers are not allowed)."
  }

  validation {
    condition     = alltrue([for u in values(var.users) : u.retired || (u.server != null && try(length(u.server.command) > 0, false))])
    error_message = "every active user needs server (command, args, env) rendered by the CLI."
  }

  # The deterministic URL's first label is <service>-<project number>, at most 63 characters.
  validation {
    condition     = alltrue([for name in keys(var.users) : length("mlflow-${var.environment}-${name}-${var.project_number}") <= 63])
    error_message = "service name (mlflow-<environment>-<user>) plus \"-<project number>\" exceeds 63 characters: shorten the user or environment name."
  }
}

variable "cloudsql_proxy_image" {
  description = "Cloud SQL Auth Proxy v2 image (sidecar of every service and job)."
  type        = string
  default     = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3"

  validation {
    condition     = can(regex("^[a-z0-9.-]+(/[a-z0-9._-]+)+(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$", var.cloudsql_proxy_image))
    error_message = "cloudsql_proxy_image must be an image reference such as gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3."
  }
}

variable "server_port" {
  description = "Port the tenant server listens on (the rendered args must use it; Cloud Run also passes it as PORT)."
  type        = number
  default     = 8080

  validation {
    condition     = var.server_port >= 1024 && var.server_port <= 65535 && var.server_port != 5432 && var.server_port != 9091
    error_message = "server_port must be 1024-65535 and not 5432 or 9091 (the Auth Proxy's ports)."
  }
}

variable "server_resources" {
  description = "CPU and memory limits of the MLflow container (services and jobs). The one-process server is ~250 MiB; uploads (<= 32 MiB a request on Cloud Run) are buffered in memory."
  type = object({
    cpu    = optional(string, "1")
    memory = optional(string, "1Gi")
  })
  default = {}

  validation {
    condition     = can(regex("^([0-9]+|0\\.[0-9]+|[0-9]+m)$", var.server_resources.cpu)) && can(regex("^[0-9]+(Mi|Gi)$", var.server_resources.memory))
    error_message = "server_resources: cpu like \"1\", \"0.5\" or \"500m\"; memory like \"512Mi\" or \"1Gi\"."
  }
}

variable "proxy_resources" {
  description = "CPU and memory limits of the Cloud SQL Auth Proxy sidecar. An instance's total CPU above 1 must be a whole number."
  type = object({
    cpu    = optional(string, "1")
    memory = optional(string, "256Mi")
  })
  default = {}

  validation {
    condition     = can(regex("^([0-9]+|0\\.[0-9]+|[0-9]+m)$", var.proxy_resources.cpu)) && can(regex("^[0-9]+(Mi|Gi)$", var.proxy_resources.memory))
    error_message = "proxy_resources: cpu like \"1\", \"0.5\" or \"500m\"; memory like \"256Mi\"."
  }
}

variable "max_request_concurrency" {
  description = "Concurrent requests per instance (max instances is 1: one writer per tenant)."
  type        = number
  default     = 80

  validation {
    condition     = var.max_request_concurrency >= 1 && var.max_request_concurrency <= 1000 && floor(var.max_request_concurrency) == var.max_request_concurrency
    error_message = "max_request_concurrency must be a whole number from 1 to 1000."
  }
}

# --- platform outputs (cloudrun-platform-outputs.tfvars.json) ------------------------

variable "project_number" {
  description = "Platform output: project number (in the tenants' run.app URLs)."
  type        = string

  validation {
    condition     = can(regex("^[1-9][0-9]*$", var.project_number))
    error_message = "project_number must be the project's number (digits)."
  }
}

variable "region" {
  description = "Platform output: region of the services."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must look like europe-west1."
  }
}

variable "sql_instance_connection_name" {
  description = "Platform output: Cloud SQL connection name PROJECT:REGION:INSTANCE."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9:.-]*:[a-z]+-[a-z]+[0-9]+:[a-z][a-z0-9-]*$", var.sql_instance_connection_name))
    error_message = "sql_instance_connection_name must look like PROJECT:REGION:INSTANCE."
  }
}

variable "sql_instance_name" {
  description = "Platform output: Cloud SQL instance name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,97}$", var.sql_instance_name))
    error_message = "sql_instance_name must be a Cloud SQL instance name."
  }
}

variable "artifact_bucket" {
  description = "Platform output: artifact bucket; each tenant's managed folder is <user>/."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$", var.artifact_bucket))
    error_message = "artifact_bucket must be a valid bucket name."
  }
}

variable "image_registry" {
  description = "Platform output: the ghcr.io pull-through repository REGION-docker.pkg.dev/PROJECT/REPO."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]+-docker\\.pkg\\.dev/[a-z][a-z0-9-]+/[a-z][a-z0-9-]*$", var.image_registry))
    error_message = "image_registry must look like REGION-docker.pkg.dev/PROJECT/REPOSITORY."
  }
}

variable "iap_service_agent" {
  description = "Platform output: IAM member of the IAP service agent (serviceAccount:service-N@gcp-sa-iap.iam.gserviceaccount.com), the only invoker of the services."
  type        = string

  validation {
    condition     = can(regex("^serviceAccount:service-[0-9]+@gcp-sa-iap\\.iam\\.gserviceaccount\\.com$", var.iap_service_agent))
    error_message = "iap_service_agent must be serviceAccount:service-<project number>@gcp-sa-iap.iam.gserviceaccount.com."
  }
}
