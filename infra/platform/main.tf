locals {
  prefix = "mlflow-${var.environment}"
  zone   = var.gke_zone != "" ? var.gke_zone : "${var.region}-b"

  # Service Usage and Cloud Resource Manager cannot be enabled from here (Terraform needs
  # them to enable anything): `mlflowk8s doctor` checks them.
  services = toset(concat([
    "artifactregistry.googleapis.com",
    "certificatemanager.googleapis.com",
    "compute.googleapis.com",
    "container.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "iap.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
  ], var.dns_managed_zone == "" ? [] : ["dns.googleapis.com"]))
}

resource "google_project_service" "this" {
  for_each = local.services

  project = var.project_id
  service = each.value

  # Another environment (or another workload) in the project may still need the API.
  disable_on_destroy         = false
  disable_dependent_services = false
}

# --- network: private nodes, egress through Cloud NAT (image pulls) ---------------------

resource "google_compute_network" "this" {
  project                 = var.project_id
  name                    = local.prefix
  auto_create_subnetworks = false

  depends_on = [google_project_service.this]
}

resource "google_compute_subnetwork" "this" {
  project                  = var.project_id
  name                     = "${local.prefix}-nodes"
  region                   = var.region
  network                  = google_compute_network.this.id
  ip_cidr_range            = "10.10.0.0/20"
  private_ip_google_access = true

  secondary_ip_range {
    range_name    = "pods"
    ip_cidr_range = "10.16.0.0/14"
  }

  secondary_ip_range {
    range_name    = "services"
    ip_cidr_range = "10.20.0.0/20"
  }

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.1
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_router" "this" {
  project = var.project_id
  name    = "${local.prefix}-router"
  region  = var.region
  network = google_compute_network.this.id
}

resource "google_compute_router_nat" "this" {
  project                            = var.project_id
  name                               = "${local.prefix}-nat"
  router                             = google_compute_router.this.name
  region                             = var.region
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}

# --- shared pieces ------------------------------------------------------------------

module "gke" {
  source = "../modules/gke"

  project_id          = var.project_id
  name                = local.prefix
  location            = local.zone
  network             = google_compute_network.this.id
  subnetwork          = google_compute_subnetwork.this.id
  pods_range_name     = "pods"
  services_range_name = "services"
  machine_type        = var.gke_machine_type
  spot                = var.gke_spot
  min_nodes           = var.gke_min_nodes
  max_nodes           = var.gke_max_nodes
  deletion_protection = var.deletion_protection
  labels              = { app = "mlflowk8s", environment = var.environment }

  master_authorized_networks = var.gke_master_authorized_networks

  depends_on = [google_compute_router_nat.this]
}

module "cloudsql" {
  source = "../modules/cloudsql"

  project_id          = var.project_id
  region              = var.region
  zone                = local.zone
  name_prefix         = local.prefix
  network             = google_compute_network.this.id
  tier                = var.cloudsql_tier
  activation_policy   = var.cloudsql_activation_policy
  max_connections     = var.cloudsql_max_connections
  deletion_protection = var.deletion_protection
  labels              = { app = "mlflowk8s", environment = var.environment }

  # The Private Service Access range (10.30.0.0/20) is reserved after the subnet's ranges
  # exist, so that the subnet never loses an overlap race to it.
  depends_on = [google_project_service.this, google_compute_subnetwork.this]
}

module "artifact_store" {
  source = "../modules/artifact-store"

  project_id = var.project_id
  name       = var.artifact_bucket
  location   = var.region
  labels     = { app = "mlflowk8s", environment = var.environment }

  depends_on = [google_project_service.this]
}

module "iap_ingress" {
  source = "../modules/iap-ingress"

  project_id       = var.project_id
  name_prefix      = local.prefix
  domain           = var.domain
  dns_managed_zone = var.dns_managed_zone
  labels           = { app = "mlflowk8s", environment = var.environment }

  depends_on = [google_project_service.this]
}
