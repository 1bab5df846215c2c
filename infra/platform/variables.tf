# Contract with the CLI: platform.tfvars.json holds project_id, region, domain,
# artifact_bucket, environment and, only when the admin set them, the optional ones.
# The defaults below are the single source of defaults, except gke_max_nodes and
# cloudsql_max_connections, which the CLI sizes (src/mlflowk8s/targets/gcp/capacity.py).

variable "project_id" {
  description = "Google Cloud project id."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid project id (6-30 lowercase letters, digits, hyphens)."
  }
}

variable "region" {
  description = "Region of the cluster, database, bucket and NAT."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must look like europe-west1."
  }
}

variable "domain" {
  description = "The lab's public host name (https://DOMAIN/<user>/)."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain))
    error_message = "domain must be a lowercase fully qualified host name such as mlflow.lab.org."
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

variable "environment" {
  description = "Environment name; part of every resource name so two environments can share a project."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.environment))
    error_message = "environment must match ^[a-z][a-z0-9-]{0,11}$."
  }
}

variable "dns_managed_zone" {
  description = "Cloud DNS managed zone in this project holding the domain; \"\" = no DNS records (the admin creates them)."
  type        = string
  default     = ""
}

variable "gke_machine_type" {
  description = "Machine type of the GKE node pool."
  type        = string
  default     = "e2-standard-2"
}

variable "gke_spot" {
  description = "Run the node pool on Spot VMs (cheaper, preemptible: every server on a preempted node restarts)."
  type        = bool
  default     = false
}

variable "gke_min_nodes" {
  description = "Minimum node count."
  type        = number
  default     = 1

  validation {
    condition     = var.gke_min_nodes >= 0 && floor(var.gke_min_nodes) == var.gke_min_nodes
    error_message = "gke_min_nodes must be a whole number >= 0."
  }
}

variable "gke_max_nodes" {
  description = "Maximum node count. The CLI sizes it from the active users (src/mlflowk8s/targets/gcp/capacity.py) unless GKE_MAX_NODES is set."
  type        = number
  default     = 4

  validation {
    condition     = var.gke_max_nodes >= 1 && floor(var.gke_max_nodes) == var.gke_max_nodes && var.gke_max_nodes >= var.gke_min_nodes
    error_message = "gke_max_nodes must be a whole number >= 1 and >= gke_min_nodes."
  }
}

variable "gke_zone" {
  description = "Zone of the (zonal) cluster; \"\" = REGION-b."
  type        = string
  default     = ""
}

variable "cloudsql_tier" {
  description = "Cloud SQL machine tier (Enterprise edition)."
  type        = string
  default     = "db-g1-small"

  validation {
    condition     = can(regex("^db-", var.cloudsql_tier))
    error_message = "cloudsql_tier must be a Cloud SQL tier such as db-g1-small or db-custom-1-3840."
  }
}

variable "cloudsql_max_connections" {
  description = "max_connections of the database: every active tenant's pool at its peak, the setup Jobs and a reserve must fit. The CLI sizes it from cloudsql_tier (src/mlflowk8s/targets/gcp/capacity.py) unless CLOUDSQL_MAX_CONNECTIONS is set; changing it restarts the instance."
  type        = number
  default     = 240

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
  description = "Deletion protection of the cluster and the database instance; the CLI passes false only for `destroy --delete-data`."
  type        = bool
  default     = true
}

variable "gke_master_authorized_networks" {
  description = "CIDR blocks allowed to reach the cluster's control plane (the admin's networks). Empty: any address, still behind Google IAM."
  type = list(object({
    cidr_block   = string
    display_name = optional(string, "")
  }))
  default = []

  validation {
    condition     = alltrue([for n in var.gke_master_authorized_networks : can(cidrhost(n.cidr_block, 0))])
    error_message = "each cidr_block must be a CIDR such as 203.0.113.0/24."
  }
}
