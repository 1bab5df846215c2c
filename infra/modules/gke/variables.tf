variable "project_id" {
  description = "Project that owns the cluster."
  type        = string
}

variable "name" {
  description = "Cluster name (also the prefix of the node pool and node service account)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.name))
    error_message = "name must be 2-40 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "location" {
  description = "Zone (zonal cluster: its management fee is covered by the GKE free tier) or region."
  type        = string
}

variable "network" {
  description = "Self link or id of the VPC network."
  type        = string
}

variable "subnetwork" {
  description = "Self link or id of the subnetwork the nodes live in."
  type        = string
}

variable "pods_range_name" {
  description = "Name of the subnetwork's secondary range for Pods."
  type        = string
}

variable "services_range_name" {
  description = "Name of the subnetwork's secondary range for Services."
  type        = string
}

variable "master_ipv4_cidr_block" {
  description = "/28 range for the control plane's private endpoint."
  type        = string
  default     = "172.16.0.0/28"
}

variable "master_authorized_networks" {
  description = "CIDR blocks allowed to reach the public control-plane endpoint. Empty: any address (access still needs Google IAM credentials)."
  type = list(object({
    cidr_block   = string
    display_name = string
  }))
  default = []
}

variable "release_channel" {
  description = "GKE release channel."
  type        = string
  default     = "REGULAR"

  validation {
    condition     = contains(["RAPID", "REGULAR", "STABLE"], var.release_channel)
    error_message = "release_channel must be RAPID, REGULAR or STABLE."
  }
}

variable "machine_type" {
  description = "Machine type of the node pool."
  type        = string
  default     = "e2-standard-2"
}

variable "spot" {
  description = "Use Spot VMs for the node pool (cheaper; a preemption restarts every tenant's server on that node)."
  type        = bool
  default     = false
}

variable "min_nodes" {
  description = "Minimum node count of the autoscaled pool."
  type        = number
  default     = 1

  validation {
    condition     = var.min_nodes >= 0 && floor(var.min_nodes) == var.min_nodes
    error_message = "min_nodes must be a whole number >= 0."
  }
}

variable "max_nodes" {
  description = "Maximum node count of the autoscaled pool."
  type        = number
  default     = 4

  validation {
    condition     = var.max_nodes >= 1 && floor(var.max_nodes) == var.max_nodes && var.max_nodes >= var.min_nodes
    error_message = "max_nodes must be a whole number >= 1 and >= min_nodes."
  }
}

variable "disk_size_gb" {
  description = "Boot disk size of each node."
  type        = number
  default     = 30
}

variable "deletion_protection" {
  description = "Terraform-side deletion protection of the cluster."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Resource labels."
  type        = map(string)
  default     = {}
}
