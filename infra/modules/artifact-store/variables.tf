variable "project_id" {
  description = "Project that owns the bucket."
  type        = string
}

variable "name" {
  description = "Globally unique bucket name (the admin's `artifact_bucket` setting)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$", var.name)) && !can(regex("^goog", var.name))
    error_message = "name must be a valid Cloud Storage bucket name (3-63 chars, lowercase letters, digits, -, _, ., not starting with goog)."
  }
}

variable "location" {
  description = "Bucket location (the region, next to the cluster: no inter-region egress)."
  type        = string
}

variable "noncurrent_version_days" {
  description = "Days after which a noncurrent (overwritten or deleted) object version is removed."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_days >= 1
    error_message = "noncurrent_version_days must be at least 1."
  }
}

variable "labels" {
  description = "Bucket labels."
  type        = map(string)
  default     = {}
}
