# One bucket for every tenant; each tenant gets a managed folder (modules/tenant) with
# IAM for its own service account only. Prefix-conditioned bucket IAM would break object
# listing, which the MLflow UI needs.

resource "google_storage_bucket" "this" {
  project  = var.project_id
  name     = var.name
  location = var.location

  # Never force_destroy: deleting the artifacts is an explicit, separate decision.
  force_destroy = false

  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = var.labels

  versioning {
    enabled = true
  }

  # Versioning already keeps deleted objects (noncurrent, lifecycle below); soft delete
  # on top would bill every deleted version a second time for 7 days.
  soft_delete_policy {
    retention_duration_seconds = 0
  }

  # Versioning protects against mistakes; old versions go after a while so they do not
  # grow the bill without bound.
  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      days_since_noncurrent_time = var.noncurrent_version_days
      with_state                 = "ARCHIVED"
    }
  }

  lifecycle_rule {
    action {
      type = "AbortIncompleteMultipartUpload"
    }
    condition {
      age = 1
    }
  }
}
