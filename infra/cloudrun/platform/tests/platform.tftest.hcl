# terraform test (offline, schema-only providers from ../shared/tfmirror, all mocked).
# tests/infra/test_cloudrun.py also reads the verbose plan of run "plan": no VPC, NAT,
# Private Service Access range or peering.

mock_provider "google" {
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }
}

mock_provider "google-beta" {
  mock_resource "google_project_service_identity" {
    defaults = {
      email = "service-123456789012@gcp-sa-iap.iam.gserviceaccount.com"
    }
  }
}

mock_provider "random" {}

variables {
  project_id      = "lab-project"
  region          = "europe-west1"
  artifact_bucket = "lab-artifacts"
  environment     = "default"
}

run "plan" {
  command = plan

  assert {
    condition     = output.image_registry == "europe-west1-docker.pkg.dev/lab-project/mlflow-default-ghcr"
    error_message = "the image registry path is known at plan time (the tenants' image)"
  }
}

run "defaults" {
  command = apply

  assert {
    condition     = output.project_number == "123456789012" && output.region == "europe-west1"
    error_message = "project number and region: the parts of the tenants' run.app URLs"
  }
  assert {
    condition     = output.iap_service_agent == "serviceAccount:service-123456789012@gcp-sa-iap.iam.gserviceaccount.com"
    error_message = "the IAP service agent is an IAM member for the tenants' invoker bindings"
  }
  assert {
    condition     = output.artifact_bucket == "lab-artifacts" && output.sql_instance_name != "" && output.sql_instance_connection_name != ""
    error_message = "bucket and Cloud SQL instance for the tenants root"
  }
  assert {
    condition = alltrue([for s in ["run.googleapis.com", "iap.googleapis.com", "sqladmin.googleapis.com", "iam.googleapis.com", "iamcredentials.googleapis.com", "storage.googleapis.com", "artifactregistry.googleapis.com"] :
    contains(keys(google_project_service.this), s)])
    error_message = "every API the target needs is enabled"
  }
  assert {
    condition     = !contains(keys(google_project_service.this), "compute.googleapis.com") && !contains(keys(google_project_service.this), "servicenetworking.googleapis.com")
    error_message = "no network APIs: no VPC on this target"
  }
  assert {
    condition     = alltrue([for s in google_project_service.this : s.disable_on_destroy == false])
    error_message = "APIs stay enabled on destroy (another environment may share the project)"
  }
  assert {
    condition     = google_project_service_identity.iap.service == "iap.googleapis.com"
    error_message = "the IAP service agent is created"
  }
  assert {
    condition = (
      google_artifact_registry_repository.ghcr.mode == "REMOTE_REPOSITORY" && google_artifact_registry_repository.ghcr.format == "DOCKER" &&
      google_artifact_registry_repository.ghcr.remote_repository_config[0].docker_repository[0].custom_repository[0].uri == "https://ghcr.io"
    )
    error_message = "an Artifact Registry remote repository caches ghcr.io"
  }
}

run "stopped_database" {
  command = plan
  variables {
    cloudsql_activation_policy = "NEVER"
  }
  assert {
    condition     = output.region == "europe-west1"
    error_message = "the instance can be stopped while the data is kept"
  }
}

# The shared module as this root calls it: public IP, connectors only, nothing of PSA.
run "cloudsql_public" {
  command = plan
  module {
    source = "../../modules/cloudsql"
  }
  variables {
    name_prefix       = "mlflow-default-run"
    private_ip        = false
    activation_policy = "NEVER"
  }

  assert {
    condition     = length(google_compute_global_address.psa) == 0 && length(google_service_networking_connection.psa) == 0
    error_message = "with private_ip off no PSA range and no peering"
  }
  assert {
    condition     = google_sql_database_instance.this.settings[0].ip_configuration[0].ipv4_enabled && google_sql_database_instance.this.settings[0].ip_configuration[0].private_network == null
    error_message = "public IP, no private network"
  }
  assert {
    condition     = length(google_sql_database_instance.this.settings[0].ip_configuration[0].authorized_networks) == 0
    error_message = "no authorized networks"
  }
  assert {
    condition     = google_sql_database_instance.this.settings[0].connector_enforcement == "REQUIRED" && google_sql_database_instance.this.settings[0].ip_configuration[0].ssl_mode == "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    error_message = "only the Auth Proxy and connectors (client certificates) get in"
  }
  assert {
    condition     = contains([for f in google_sql_database_instance.this.settings[0].database_flags : "${f.name}=${f.value}"], "cloudsql.iam_authentication=on")
    error_message = "IAM database authentication on"
  }
  assert {
    condition     = google_sql_database_instance.this.settings[0].activation_policy == "NEVER"
    error_message = "activation_policy reaches the instance"
  }
}

run "cloudsql_private_default" {
  command = plan
  module {
    source = "../../modules/cloudsql"
  }
  variables {
    name_prefix = "mlflow-default"
    network     = "projects/lab-project/global/networks/mlflow-default"
  }

  assert {
    condition     = length(google_compute_global_address.psa) == 1 && length(google_service_networking_connection.psa) == 1
    error_message = "the GKE default keeps Private Service Access"
  }
  assert {
    condition     = !google_sql_database_instance.this.settings[0].ip_configuration[0].ipv4_enabled && google_sql_database_instance.this.settings[0].activation_policy == "ALWAYS"
    error_message = "private IP only and running by default"
  }
}

run "cloudsql_private_needs_network" {
  command = plan
  module {
    source = "../../modules/cloudsql"
  }
  variables {
    name_prefix = "mlflow-default"
  }
  expect_failures = [var.network]
}

run "invalid_activation_policy" {
  command = plan
  variables {
    cloudsql_activation_policy = "SOMETIMES"
  }
  expect_failures = [var.cloudsql_activation_policy]
}

run "invalid_environment" {
  command = plan
  variables {
    environment = "production-environment"
  }
  expect_failures = [var.environment]
}
