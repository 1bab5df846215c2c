# terraform test (offline, schema-only providers from tests/support/tfmirror, all mocked).
# tests/infra/test_terraform.py also reads the verbose plan of run "add_c" to check that
# adding a user only adds that user's resources.

mock_provider "google" {
  mock_data "google_client_config" {
    defaults = {
      access_token = "mock-token"
    }
  }
  mock_resource "google_service_account" {
    defaults = {
      email = "mock@lab-project.iam.gserviceaccount.com"
    }
  }
}

mock_provider "kubernetes" {}

variables {
  project_id              = "lab-project"
  region                  = "europe-west1"
  domain                  = "mlflow.lab.org"
  environment             = "default"
  mlflow_image            = "ghcr.io/mlflow/mlflow@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  iap_oauth_client_id     = "1234-abc.apps.googleusercontent.com"
  iap_oauth_client_secret = "not-a-real-secret"
  server_resources = {
    requests = { cpu = "50m", memory = "320Mi" }
    limits   = { cpu = "1000m", memory = "1408Mi" }
  }
  proxy_resources = {
    requests = { cpu = "20m", memory = "32Mi" }
    limits   = { cpu = "500m", memory = "128Mi" }
  }
  tmp_size_limit = "640Mi"

  cluster_name                 = "mlflow-default"
  cluster_location             = "europe-west1-b"
  cluster_endpoint             = "198.51.100.1"
  cluster_ca_certificate       = "Q0E="
  sql_instance_connection_name = "lab-project:europe-west1:mlflow-default-ab12"
  sql_instance_name            = "mlflow-default-ab12"
  artifact_bucket              = "lab-artifacts"
  gateway_ip_address           = "203.0.113.10"
  gateway_ip_name              = "mlflow-default-gateway"
  certificate_map_name         = "mlflow-default-certmap"
  image_registry               = "europe-west1-docker.pkg.dev/lab-project/mlflow-default-ghcr"
  dns_name_servers             = []
  certificate_dns_authorization = {
    name = "_acme-challenge.mlflow.lab.org."
    type = "CNAME"
    data = "0123abcd.1.authorize.certificatemanager.goog."
  }

  users = {
    a = {
      members               = ["user:a@lab.org"]
      retired               = false
      server_command        = ["python", "-c", "<launcher source>", "--host", "0.0.0.0", "--port", "5000", "--static-prefix", "/a", "--allowed-hosts", "mlflow.lab.org,mlflow.lab.org:*,10.*,localhost,localhost:*,127.0.0.1,127.0.0.1:*", "--artifacts-destination", "gs://lab-artifacts/a", "--serve-artifacts", "--forwarded-allow-ips=*", "--timeout-keep-alive=620"]
      ready_path            = "/a/ready"
      static_prefix         = "/a"
      artifacts_destination = "gs://lab-artifacts/a"
      server_env            = { MLFLOW_DISABLE_TELEMETRY = "true", MLFLOW_SERVER_ENABLE_JOB_EXECUTION = "false", MLFLOW_SQLALCHEMYSTORE_POOL_SIZE = "2", MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW = "3" }
    }
    b = {
      members               = ["user:b@lab.org", "group:b-team@lab.org"]
      retired               = false
      server_command        = ["python", "-c", "<launcher source>", "--host", "0.0.0.0", "--port", "5000", "--static-prefix", "/b", "--allowed-hosts", "mlflow.lab.org,mlflow.lab.org:*,10.*,localhost,localhost:*,127.0.0.1,127.0.0.1:*", "--artifacts-destination", "gs://lab-artifacts/b", "--serve-artifacts", "--forwarded-allow-ips=*", "--timeout-keep-alive=620"]
      ready_path            = "/b/ready"
      static_prefix         = "/b"
      artifacts_destination = "gs://lab-artifacts/b"
      server_env            = { MLFLOW_DISABLE_TELEMETRY = "true", MLFLOW_SERVER_ENABLE_JOB_EXECUTION = "false", MLFLOW_SQLALCHEMYSTORE_POOL_SIZE = "2", MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW = "3" }
    }
  }
}

run "ab" {
  command = apply

  assert {
    condition     = keys(output.tenants) == ["a", "b"]
    error_message = "one tenant per user, keyed by the user name"
  }
  assert {
    condition     = output.tenants["a"].url == "https://mlflow.lab.org/a/" && output.tenants["b"].url == "https://mlflow.lab.org/b/"
    error_message = "tenant URL is https://DOMAIN/<user>/"
  }
  assert {
    condition     = output.tenants["a"].namespace == "mlflow-a" && output.tenants["a"].database == "mlflow_a"
    error_message = "namespace and database derive from the user name"
  }
  assert {
    condition     = output.tenants["b"].members == tolist(["user:b@lab.org", "group:b-team@lab.org"]) && output.tenants["a"].members == tolist(["user:a@lab.org"])
    error_message = "each tenant lists exactly its own members"
  }
  assert {
    condition     = output.gateway_name == "mlflow" && length(kubernetes_manifest.gateway) == 1
    error_message = "one shared Gateway"
  }
  assert {
    condition     = kubernetes_manifest.gateway[0].manifest.spec.gatewayClassName == "gke-l7-global-external-managed" && kubernetes_manifest.gateway[0].manifest.spec.addresses[0].value == "mlflow-default-gateway"
    error_message = "the Gateway is a global external ALB on the platform's static IP"
  }
  assert {
    condition     = kubernetes_manifest.gateway[0].manifest.metadata.annotations["networking.gke.io/certmap"] == "mlflow-default-certmap"
    error_message = "TLS from the platform's certificate map"
  }
  assert {
    condition     = google_sql_user.db_admin.type == "CLOUD_IAM_SERVICE_ACCOUNT" && contains(google_sql_user.db_admin.database_roles, "cloudsqlsuperuser")
    error_message = "the setup Jobs' admin is an IAM database user, no password"
  }
}

# Same users plus c, planned on top of the applied {a, b}: only c's resources may change
# (the pytest wrapper checks the verbose plan of this run).
run "add_c" {
  command = plan

  variables {
    users = merge(var.users, {
      c = {
        members               = ["user:c@lab.org"]
        retired               = false
        server_command        = ["python", "-c", "<launcher source>", "--host", "0.0.0.0", "--port", "5000", "--static-prefix", "/c", "--allowed-hosts", "mlflow.lab.org,mlflow.lab.org:*,10.*,localhost,localhost:*,127.0.0.1,127.0.0.1:*", "--artifacts-destination", "gs://lab-artifacts/c", "--serve-artifacts", "--forwarded-allow-ips=*", "--timeout-keep-alive=620"]
        ready_path            = "/c/ready"
        static_prefix         = "/c"
        artifacts_destination = "gs://lab-artifacts/c"
        server_env            = { MLFLOW_DISABLE_TELEMETRY = "true" }
      }
    })
  }

  assert {
    condition     = output.tenants["a"] == run.ab.tenants["a"] && output.tenants["b"] == run.ab.tenants["b"]
    error_message = "adding c leaves a and b as they were"
  }
  assert {
    condition     = output.tenants["c"].namespace == "mlflow-c" && output.tenants["c"].url == "https://mlflow.lab.org/c/"
    error_message = "c gets its own tenant"
  }
}

# Retiring b, planned on top of the applied {a, b}: only b's cluster objects and IAP
# access may go (the pytest wrapper checks the verbose plan of this run).
run "retire_b_plan" {
  command = plan

  variables {
    users = merge(var.users, {
      b = merge(var.users["b"], { retired = true })
    })
  }

  assert {
    condition     = output.tenants["b"].retired && length(output.tenants["b"].members) == 0
    error_message = "b is retired"
  }
}

run "retire_b" {
  command = apply

  variables {
    users = merge(var.users, {
      b = merge(var.users["b"], { retired = true })
    })
  }

  assert {
    condition     = output.tenants["b"].retired && length(output.tenants["b"].members) == 0 && output.tenants["b"].database == "mlflow_b"
    error_message = "a retired tenant keeps its database and loses IAP access"
  }
  assert {
    condition     = output.tenants["a"] == run.ab.tenants["a"]
    error_message = "retiring b leaves a alone"
  }
  assert {
    condition     = length(kubernetes_manifest.gateway) == 1
    error_message = "the Gateway stays while a is active"
  }
}

run "all_retired" {
  command = apply

  variables {
    users = { for name, u in var.users : name => merge(u, { retired = true }) }
  }

  assert {
    condition     = length(kubernetes_manifest.gateway) == 0 && length(kubernetes_namespace_v1.system) == 0
    error_message = "with every tenant retired nothing of this root stays in the cluster"
  }
  assert {
    condition     = keys(output.tenants) == ["a", "b"] && alltrue([for t in output.tenants : t.retired && length(t.members) == 0])
    error_message = "retired tenants stay listed, without access"
  }
}

# Only server_command and the server's facts are required; the rest has defaults.
run "optional_attributes" {
  command = plan
  variables {
    users = {
      d = {
        server_command        = ["python", "-c", "<launcher source>", "--static-prefix", "/d", "--artifacts-destination", "gs://lab-artifacts/d"]
        ready_path            = "/d/ready"
        static_prefix         = "/d"
        artifacts_destination = "gs://lab-artifacts/d"
      }
    }
  }

  assert {
    condition     = !output.tenants["d"].retired && length(output.tenants["d"].members) == 0
    error_message = "members default to none, retired to false"
  }
}

run "invalid_user_name" {
  command = plan
  variables {
    users = {
      "Bad_Name" = {
        members        = ["user:x@lab.org"]
        retired        = false
        server_command = []
        server_env     = {}
      }
    }
  }
  expect_failures = [var.users]
}

run "user_name_too_long" {
  command = plan
  variables {
    users = {
      "abcdefghijklmnopqrstu" = {
        members        = ["user:x@lab.org"]
        retired        = false
        server_command = []
        server_env     = {}
      }
    }
  }
  expect_failures = [var.users]
}

run "database_user_too_long" {
  command = plan
  variables {
    project_id = "a-very-long-project-id-30-char"
    users = {
      "abcdefghijklmnopqrst" = {
        server_command = []
      }
    }
  }
  expect_failures = [var.users]
}

run "invalid_member" {
  command = plan
  variables {
    users = {
      x = {
        members        = ["x@lab.org"]
        retired        = false
        server_command = []
        server_env     = {}
      }
    }
  }
  expect_failures = [var.users]
}

# The pinned ghcr.io image is pulled through the platform's remote repository, by digest
# (the tag is dropped); an image of another registry is pulled as given.
run "ghcr_image_through_artifact_registry" {
  command = plan
  variables {
    mlflow_image = "ghcr.io/mlflow/mlflow:v3.17.2-full@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  }

  assert {
    condition     = local.mlflow_image == "europe-west1-docker.pkg.dev/lab-project/mlflow-default-ghcr/mlflow/mlflow@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    error_message = "ghcr.io/OWNER/NAME[:TAG]@sha256:D is pulled as <image_registry>/OWNER/NAME@sha256:D"
  }
}

run "other_registry_image_as_given" {
  command = plan
  variables {
    mlflow_image = "europe-docker.pkg.dev/lab-project/images/mlflow@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  }

  assert {
    condition     = local.mlflow_image == var.mlflow_image
    error_message = "an image outside ghcr.io is not rewritten"
  }
}

run "image_not_pinned" {
  command = plan
  variables {
    mlflow_image = "ghcr.io/mlflow/mlflow:v3.17.0"
  }
  expect_failures = [var.mlflow_image]
}

run "invalid_environment" {
  command = plan
  variables {
    environment = "production-environment"
  }
  expect_failures = [var.environment]
}
