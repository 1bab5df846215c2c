variable "project_id" {
  description = "Project that owns the Google service account."
  type        = string
}

variable "account_id" {
  description = "Google service account id (6-30 chars)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.account_id))
    error_message = "account_id must be 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "display_name" {
  description = "Display name of the Google service account."
  type        = string
}

variable "description" {
  description = "Description of the Google service account."
  type        = string
  default     = ""
}

variable "bind" {
  description = "Create the Kubernetes service account and the Workload Identity binding. False keeps only the Google service account (and whatever is granted to it), e.g. for a retired tenant."
  type        = bool
  default     = true
}

variable "namespace" {
  description = "Namespace of the Kubernetes service account (must exist when bind is true)."
  type        = string
  default     = ""
}

variable "kubernetes_service_account" {
  description = "Name of the Kubernetes service account."
  type        = string
  default     = "mlflow"
}

variable "labels" {
  description = "Labels of the Kubernetes service account."
  type        = map(string)
  default     = {}
}
