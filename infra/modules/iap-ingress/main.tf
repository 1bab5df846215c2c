# The parts of the shared HTTPS load balancer that exist outside Kubernetes: the global
# static IP, the Certificate Manager certificate (DNS authorization, so it can be issued
# before DNS points at the IP) and its map and, optionally, the DNS records. The Gateway
# (tenants root) references the IP and map by name. The project's IAP settings are not
# here: they are one object per project, shared by every environment, and the CLI keeps
# their programmatic clients (src/mlflowk8s/google/iap_settings.py).

data "google_project" "this" {
  project_id = var.project_id
}

resource "google_compute_global_address" "gateway" {
  project      = var.project_id
  name         = "${var.name_prefix}-gateway"
  address_type = "EXTERNAL"
  ip_version   = "IPV4"
  labels       = var.labels
}

resource "google_certificate_manager_dns_authorization" "this" {
  project     = var.project_id
  name        = "${var.name_prefix}-dns-auth"
  domain      = var.domain
  description = "DNS authorization for ${var.domain}"
  labels      = var.labels
}

resource "google_certificate_manager_certificate" "this" {
  project     = var.project_id
  name        = "${var.name_prefix}-cert"
  description = "Managed certificate for ${var.domain}"
  labels      = var.labels

  managed {
    domains            = [var.domain]
    dns_authorizations = [google_certificate_manager_dns_authorization.this.id]
  }
}

resource "google_certificate_manager_certificate_map" "this" {
  project     = var.project_id
  name        = "${var.name_prefix}-certmap"
  description = "Certificate map of the ${var.name_prefix} Gateway"
  labels      = var.labels
}

resource "google_certificate_manager_certificate_map_entry" "this" {
  project      = var.project_id
  name         = "${var.name_prefix}-certmap-entry"
  map          = google_certificate_manager_certificate_map.this.name
  hostname     = var.domain
  certificates = [google_certificate_manager_certificate.this.id]
  labels       = var.labels
}

data "google_dns_managed_zone" "this" {
  count   = var.dns_managed_zone == "" ? 0 : 1
  project = var.project_id
  name    = var.dns_managed_zone
}

resource "google_dns_record_set" "gateway" {
  count        = var.dns_managed_zone == "" ? 0 : 1
  project      = var.project_id
  managed_zone = var.dns_managed_zone
  name         = "${var.domain}."
  type         = "A"
  ttl          = 300
  rrdatas      = [google_compute_global_address.gateway.address]
}

resource "google_dns_record_set" "dns_authorization" {
  count        = var.dns_managed_zone == "" ? 0 : 1
  project      = var.project_id
  managed_zone = var.dns_managed_zone
  name         = local.dns_authorization.name
  type         = local.dns_authorization.type
  ttl          = 300
  rrdatas      = [local.dns_authorization.data]
}

locals {
  dns_authorization = {
    name = try(google_certificate_manager_dns_authorization.this.dns_resource_record[0].name, "")
    type = try(google_certificate_manager_dns_authorization.this.dns_resource_record[0].type, "CNAME")
    data = try(google_certificate_manager_dns_authorization.this.dns_resource_record[0].data, "")
  }
}
