# Cloud SQL for PostgreSQL with IAM database authentication so tenants log in as their
# Google service account through the Cloud SQL Auth Proxy: no passwords anywhere.
# Reachable either only on a private IP (Private Service Access, the GKE target) or on a
# public IP that admits only the Cloud SQL connectors (Cloud Run has no VPC here).

resource "google_compute_global_address" "psa" {
  count = var.private_ip ? 1 : 0

  project       = var.project_id
  name          = "${var.name_prefix}-psa"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  address       = var.psa_address
  prefix_length = var.psa_prefix_length
  network       = var.network
}

resource "google_service_networking_connection" "psa" {
  count = var.private_ip ? 1 : 0

  network                 = var.network
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.psa[0].name]

  # Deleting the connection fails while Cloud SQL still holds producer resources after
  # the instance is gone: leave it to the network's deletion instead.
  deletion_policy = "ABANDON"
  # A connection that exists already (an earlier, interrupted apply) is updated instead
  # of failing the create.
  update_on_creation_fail = true
}

# A deleted instance's name cannot be reused for about a week: a suffix lets
# `destroy --delete-data` be followed by a fresh `apply`.
resource "random_id" "suffix" {
  byte_length = 2
  keepers = {
    name_prefix = var.name_prefix
  }
}

resource "google_sql_database_instance" "this" {
  project             = var.project_id
  name                = "${var.name_prefix}-${random_id.suffix.hex}"
  region              = var.region
  database_version    = var.database_version
  deletion_protection = var.deletion_protection

  settings {
    # PostgreSQL 16+ defaults to Enterprise Plus, which rejects the small tiers.
    edition                     = "ENTERPRISE"
    tier                        = var.tier
    activation_policy           = var.activation_policy
    availability_type           = "ZONAL"
    disk_type                   = "PD_SSD"
    disk_size                   = var.disk_size_gb
    disk_autoresize             = true
    deletion_protection_enabled = var.deletion_protection
    user_labels                 = var.labels

    # Public IP: no authorized networks, and connector enforcement rejects every client
    # but the Auth Proxy and the language connectors (IAM-checked, TLS).
    connector_enforcement = var.private_ip ? null : "REQUIRED"

    ip_configuration {
      ipv4_enabled                                  = !var.private_ip
      private_network                               = var.private_ip ? var.network : null
      allocated_ip_range                            = var.private_ip ? google_compute_global_address.psa[0].name : null
      ssl_mode                                      = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED" # the Auth Proxy brings client certificates
      enable_private_path_for_google_cloud_services = false
    }

    dynamic "location_preference" {
      for_each = var.zone == "" ? [] : [var.zone]
      content {
        zone = location_preference.value
      }
    }

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = "02:00"
      transaction_log_retention_days = var.transaction_log_retention_days
      backup_retention_settings {
        retained_backups = var.backup_retention_days
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day  = 7
      hour = 3
    }

    database_flags {
      name  = "cloudsql.iam_authentication"
      value = "on"
    }
    database_flags {
      name  = "max_connections"
      value = tostring(var.max_connections)
    }
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    # Off: a reverse DNS lookup per connection slows every connect, and clients come
    # through the Auth Proxy, whose addresses name no one.
    database_flags {
      name  = "log_hostname"
      value = "off"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = false
      record_client_address   = false
    }
  }

  depends_on = [google_service_networking_connection.psa]
}
