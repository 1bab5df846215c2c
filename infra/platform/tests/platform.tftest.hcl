# terraform test (offline, schema-only providers from tests/support/tfmirror, all mocked).

mock_provider "google" {
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }
  mock_data "google_dns_managed_zone" {
    defaults = {
      name_servers = ["ns-cloud-a1.googledomains.com.", "ns-cloud-a2.googledomains.com."]
    }
  }
  mock_resource "google_certificate_manager_dns_authorization" {
    defaults = {
      dns_resource_record = [{
        name = "_acme-challenge.mlflow.lab.org."
        type = "CNAME"
        data = "0123abcd.1.authorize.certificatemanager.goog."
      }]
    }
  }
  mock_resource "google_compute_global_address" {
    defaults = {
      address = "203.0.113.10"
    }
  }
  mock_resource "google_container_cluster" {
    defaults = {
      endpoint = "198.51.100.1"
    }
  }
}

mock_provider "random" {}

variables {
  project_id      = "lab-project"
  region          = "europe-west1"
  domain          = "mlflow.lab.org"
  artifact_bucket = "lab-artifacts"
  environment     = "default"
}

run "defaults" {
  command = apply

  assert {
    condition     = output.cluster_name == "mlflow-default" && output.cluster_location == "europe-west1-b"
    error_message = "zonal cluster named after the environment"
  }
  assert {
    condition     = output.artifact_bucket == "lab-artifacts"
    error_message = "bucket name comes from artifact_bucket"
  }
  assert {
    condition     = output.dns_name_servers == []
    error_message = "no managed zone: no name servers"
  }
  assert {
    condition = alltrue([
      google_artifact_registry_repository.ghcr.mode == "REMOTE_REPOSITORY",
      google_artifact_registry_repository.ghcr.format == "DOCKER",
      google_artifact_registry_repository.ghcr.remote_repository_config[0].docker_repository[0].custom_repository[0].uri == "https://ghcr.io",
      output.image_registry == "europe-west1-docker.pkg.dev/lab-project/mlflow-default-ghcr",
    ])
    error_message = "a remote repository caches ghcr.io in the region; its path is known at plan time (the tenants' image)"
  }
  assert {
    condition     = output.certificate_dns_authorization.type == "CNAME" && output.certificate_dns_authorization.name == "_acme-challenge.mlflow.lab.org."
    error_message = "the DNS authorization record is an output for the admin"
  }
  assert {
    condition     = output.gateway_ip_name == "mlflow-default-gateway" && output.certificate_map_name == "mlflow-default-certmap"
    error_message = "gateway IP and certificate map names carry the environment"
  }
  assert {
    condition     = alltrue([for s in google_project_service.this : s.disable_on_destroy == false])
    error_message = "APIs must stay enabled on destroy (another environment may share the project)"
  }
  assert {
    condition     = !contains(keys(google_project_service.this), "dns.googleapis.com")
    error_message = "Cloud DNS API only with a managed zone"
  }
  assert {
    condition     = google_compute_network.this.name == "mlflow-default" && google_compute_router_nat.this.name == "mlflow-default-nat"
    error_message = "network names carry the environment"
  }
}

run "with_dns_zone" {
  command = apply

  variables {
    environment      = "staging"
    dns_managed_zone = "lab-zone"
  }

  assert {
    condition     = length(output.dns_name_servers) == 2
    error_message = "name servers of the managed zone are an output"
  }
  assert {
    condition     = contains(keys(google_project_service.this), "dns.googleapis.com")
    error_message = "Cloud DNS API is enabled with a managed zone"
  }
  assert {
    condition     = output.cluster_name == "mlflow-staging"
    error_message = "a second environment gets its own names"
  }
}

run "cloudsql_module" {
  command = plan
  module {
    source = "../modules/cloudsql"
  }
  variables {
    name_prefix = "mlflow-default"
    network     = "projects/lab-project/global/networks/mlflow-default"
  }

  assert {
    condition     = google_sql_database_instance.this.deletion_protection == true
    error_message = "Terraform deletion protection on by default"
  }
  assert {
    condition     = google_sql_database_instance.this.settings[0].deletion_protection_enabled == true
    error_message = "API deletion protection on by default"
  }
  assert {
    condition     = google_sql_database_instance.this.settings[0].ip_configuration[0].ipv4_enabled == false
    error_message = "no public IP"
  }
  assert {
    condition     = google_sql_database_instance.this.settings[0].ip_configuration[0].private_network == "projects/lab-project/global/networks/mlflow-default"
    error_message = "private IP on the lab VPC"
  }
  assert {
    condition     = google_sql_database_instance.this.settings[0].edition == "ENTERPRISE"
    error_message = "Enterprise edition (Enterprise Plus rejects small tiers)"
  }
  assert {
    condition     = google_sql_database_instance.this.settings[0].backup_configuration[0].enabled && google_sql_database_instance.this.settings[0].backup_configuration[0].point_in_time_recovery_enabled
    error_message = "backups with point-in-time recovery"
  }
  assert {
    condition     = contains([for f in google_sql_database_instance.this.settings[0].database_flags : "${f.name}=${f.value}"], "cloudsql.iam_authentication=on")
    error_message = "IAM database authentication on"
  }
  assert {
    condition     = contains([for f in google_sql_database_instance.this.settings[0].database_flags : "${f.name}=${f.value}"], "log_hostname=off")
    error_message = "log_hostname off (a DNS lookup per connection)"
  }
  assert {
    condition     = google_service_networking_connection.psa[0].deletion_policy == "ABANDON" && google_service_networking_connection.psa[0].update_on_creation_fail == true
    error_message = "Private Service Access connection abandoned on destroy, updated when it exists already"
  }
  assert {
    condition     = google_compute_global_address.psa[0].address == "10.30.0.0" && google_compute_global_address.psa[0].prefix_length == 20
    error_message = "Private Service Access range pinned outside the subnet's ranges"
  }
}

run "cloudsql_delete_data" {
  command = plan
  module {
    source = "../modules/cloudsql"
  }
  variables {
    name_prefix         = "mlflow-default"
    network             = "projects/lab-project/global/networks/mlflow-default"
    deletion_protection = false
  }

  assert {
    condition     = google_sql_database_instance.this.deletion_protection == false && google_sql_database_instance.this.settings[0].deletion_protection_enabled == false
    error_message = "destroy --delete-data lifts both protections"
  }
}

run "artifact_store_module" {
  command = plan
  module {
    source = "../modules/artifact-store"
  }
  variables {
    name     = "lab-artifacts"
    location = "europe-west1"
  }

  assert {
    condition     = google_storage_bucket.this.force_destroy == false
    error_message = "the artifact bucket never has force_destroy"
  }
  assert {
    condition     = google_storage_bucket.this.uniform_bucket_level_access && google_storage_bucket.this.public_access_prevention == "enforced"
    error_message = "uniform access and public access prevention"
  }
  assert {
    condition     = google_storage_bucket.this.versioning[0].enabled
    error_message = "versioning on"
  }
  assert {
    condition     = google_storage_bucket.this.soft_delete_policy[0].retention_duration_seconds == 0
    error_message = "soft delete off while versioning keeps deleted objects"
  }
  assert {
    condition     = anytrue([for r in google_storage_bucket.this.lifecycle_rule : r.action[0].type == "Delete" && r.condition[0].days_since_noncurrent_time == 30])
    error_message = "lifecycle rule removes old versions"
  }
}

run "gke_module" {
  command = plan
  module {
    source = "../modules/gke"
  }
  variables {
    name                = "mlflow-default"
    location            = "europe-west1-b"
    network             = "net"
    subnetwork          = "subnet"
    pods_range_name     = "pods"
    services_range_name = "services"
  }

  assert {
    condition     = google_container_cluster.this.workload_identity_config[0].workload_pool == "lab-project.svc.id.goog"
    error_message = "Workload Identity pool of the project"
  }
  assert {
    condition     = google_container_cluster.this.gateway_api_config[0].channel == "CHANNEL_STANDARD"
    error_message = "Gateway API enabled"
  }
  assert {
    condition     = google_container_cluster.this.private_cluster_config[0].enable_private_nodes
    error_message = "private nodes"
  }
  assert {
    condition     = google_container_node_pool.default.node_config[0].spot == false
    error_message = "on-demand nodes by default"
  }
  assert {
    condition     = google_container_node_pool.default.node_config[0].workload_metadata_config[0].mode == "GKE_METADATA"
    error_message = "pods see the GKE metadata server"
  }
  assert {
    condition     = google_container_cluster.this.release_channel[0].channel == "REGULAR"
    error_message = "release channel"
  }
}

run "spot_option" {
  command = plan
  variables {
    gke_spot = true
  }
  assert {
    condition     = output.cluster_name == "mlflow-default"
    error_message = "spot plans"
  }
}

run "authorized_networks_option" {
  command = plan
  variables {
    gke_master_authorized_networks = [{ cidr_block = "203.0.113.0/24", display_name = "lab office" }, { cidr_block = "198.51.100.7/32" }]
  }
  assert {
    condition     = output.cluster_name == "mlflow-default"
    error_message = "control-plane authorized networks plan"
  }
}

run "invalid_authorized_network" {
  command = plan
  variables {
    gke_master_authorized_networks = [{ cidr_block = "lab office" }]
  }
  expect_failures = [var.gke_master_authorized_networks]
}

run "invalid_environment" {
  command = plan
  variables {
    environment = "Prod_1"
  }
  expect_failures = [var.environment]
}

run "invalid_node_bounds" {
  command = plan
  variables {
    gke_min_nodes = 3
    gke_max_nodes = 2
  }
  expect_failures = [var.gke_max_nodes]
}

run "invalid_domain" {
  command = plan
  variables {
    domain = "https://mlflow.lab.org/"
  }
  expect_failures = [var.domain]
}

run "invalid_bucket" {
  command = plan
  variables {
    artifact_bucket = "Lab_Artifacts!"
  }
  expect_failures = [var.artifact_bucket]
}
