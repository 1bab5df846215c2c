# Contract with the CLI: cloudrun-platform.tfvars.json holds project_id, region,
# artifact_bucket, environment and, only when the admin set them, the optional ones.
# The defaults below are the single source of defaults.

variable "project_id" {
  description = "Google Cloud project id."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid project id (6-30 lowercase letters, digits, hyphens)."
  }
}

variable "region" {
  description = "Region of the Cloud Run services, the database, the bucket and the image cache."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must look like europe-west1."
  }
}

variable "environment" {
  description = "Environment name; part of every resource name so two environments can share a project."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.environment))
    error_message = "environment must match ^[a-z][a-z0-9-]{0,11}$."
  }
}

variable "artifact_bucket" {
  description = "Name of the artifact bucket to create."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$", var.artifact_bucket))
    error_message = "artifact_bucket must be a valid bucket name (3-63 lowercase letters, digits, -, _, .)."
  }
}

variable "cloudsql_tier" {
  description = "Cloud SQL machine tier (Enterprise edition). db-f1-micro (25 connections by default) suits up to ~8 tenants, db-g1-small about 30."
  type        = string
  default     = "db-g1-small"

  validation {
    condition     = can(regex("^db-", var.cloudsql_tier))
    error_message = "cloudsql_tier must be a Cloud SQL tier such as db-f1-micro, db-g1-small or db-custom-1-3840."
  }
}

variable "cloudsql_zone" {
  description = "Preferred zone of the Cloud SQL instance; \"\" = Cloud SQL chooses (Cloud Run is regional)."
  type        = string
  default     = ""

  validation {
    condition     = var.cloudsql_zone == "" || can(regex("^[a-z]+-[a-z]+[0-9]+-[a-z]$", var.cloudsql_zone))
    error_message = "cloudsql_zone must be \"\" or a zone such as europe-west1-b."
  }
}

variable "cloudsql_max_connections" {
  description = "max_connections flag: concurrently warm tenants x (pool size + overflow) plus headroom. Scaled-to-zero tenants hold none."
  type        = number
  default     = 100

  validation {
    condition     = var.cloudsql_max_connections >= 25 && floor(var.cloudsql_max_connections) == var.cloudsql_max_connections
    error_message = "cloudsql_max_connections must be a whole number >= 25."
  }
}

variable "cloudsql_activation_policy" {
  description = "ALWAYS: the Cloud SQL instance runs. NEVER: it is stopped while the data is kept (every tenant retired); storage and backups are still billed."
  type        = string
  default     = "ALWAYS"

  validation {
    condition     = contains(["ALWAYS", "NEVER"], var.cloudsql_activation_policy)
    error_message = "cloudsql_activation_policy must be ALWAYS or NEVER."
  }
}

variable "deletion_protection" {
  description = "Deletion protection of the database instance; the CLI passes false only for `destroy --delete-data`."
  type        = bool
  default     = true
}
