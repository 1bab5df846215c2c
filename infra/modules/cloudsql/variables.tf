variable "project_id" {
  description = "Project that owns the instance."
  type        = string
}

variable "region" {
  description = "Region of the instance."
  type        = string
}

variable "zone" {
  description = "Preferred zone (put it next to the GKE nodes). Empty: Cloud SQL chooses."
  type        = string
  default     = ""
}

variable "name_prefix" {
  description = "Prefix of the instance name; a random suffix follows, since a deleted instance's name stays blocked for about a week."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,78}$", var.name_prefix))
    error_message = "name_prefix must start with a letter and hold lowercase letters, digits and hyphens (at most 79 chars)."
  }
}

variable "private_ip" {
  description = "true: private IP only, through Private Service Access on var.network. false: public IP with no authorized networks and connector enforcement REQUIRED (only the Cloud SQL Auth Proxy and connectors get in); no PSA range or peering is created."
  type        = bool
  default     = true
}

variable "network" {
  description = "Id (projects/P/global/networks/N) of the VPC peered with Cloud SQL through Private Service Access; \"\" when private_ip is false."
  type        = string
  default     = ""

  validation {
    condition     = var.network != "" || !var.private_ip
    error_message = "network (projects/P/global/networks/N) is required when private_ip is true."
  }
}

variable "psa_address" {
  description = "First address of the range reserved for Private Service Access (pinned, so that it never overlaps the subnet's ranges and a re-create gets the same one)."
  type        = string
  default     = "10.30.0.0"

  validation {
    condition     = can(cidrhost("${var.psa_address}/32", 0))
    error_message = "psa_address must be an IPv4 address such as 10.30.0.0."
  }
}

variable "psa_prefix_length" {
  description = "Prefix length of the range reserved for Private Service Access."
  type        = number
  default     = 20
}

variable "database_version" {
  description = "PostgreSQL version."
  type        = string
  default     = "POSTGRES_16"

  validation {
    condition     = can(regex("^POSTGRES_[0-9]+$", var.database_version))
    error_message = "database_version must be a POSTGRES_NN version."
  }
}

variable "tier" {
  description = "Machine tier. Enterprise edition (set explicitly) accepts the shared-core tiers."
  type        = string
  default     = "db-g1-small"
}

variable "activation_policy" {
  description = "ALWAYS: the instance runs. NEVER: it is stopped (no compute billed, storage and backups kept), e.g. while every tenant is retired."
  type        = string
  default     = "ALWAYS"

  validation {
    condition     = contains(["ALWAYS", "NEVER"], var.activation_policy)
    error_message = "activation_policy must be ALWAYS or NEVER."
  }
}

variable "disk_size_gb" {
  description = "Initial SSD size (auto-grows)."
  type        = number
  default     = 10
}

variable "max_connections" {
  description = "max_connections flag: tenants x (pool size + overflow) plus headroom."
  type        = number
  default     = 100
}

variable "backup_retention_days" {
  description = "Automated backups kept (one a day)."
  type        = number
  default     = 7
}

variable "transaction_log_retention_days" {
  description = "Days of write-ahead logs kept for point-in-time recovery."
  type        = number
  default     = 7
}

variable "deletion_protection" {
  description = "Terraform and API deletion protection of the instance. False only when the data is to be deleted."
  type        = bool
  default     = true
}

variable "labels" {
  description = "User labels."
  type        = map(string)
  default     = {}
}
