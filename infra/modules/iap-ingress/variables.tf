variable "project_id" {
  description = "Project that owns the load balancer pieces."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every resource name (includes the environment)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,40}$", var.name_prefix))
    error_message = "name_prefix must start with a letter and hold at most 41 lowercase letters, digits and hyphens."
  }
}

variable "domain" {
  description = "Public host name of the service (certificate, map entry, DNS record)."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain))
    error_message = "domain must be a lowercase fully qualified host name such as mlflow.lab.org."
  }
}

variable "dns_managed_zone" {
  description = "Cloud DNS managed zone (in this project) that holds `domain`. Empty: the admin creates the records."
  type        = string
  default     = ""
}

variable "labels" {
  description = "Labels."
  type        = map(string)
  default     = {}
}
