# Contract with the CLI: run by tests/infra/test_contract.py with
#   terraform test -test-directory=contract -var-file=<platform.tfvars.json rendered by `mlflowk8s render`>
# (not part of the plain `terraform test`, which reads tests/ only).

mock_provider "google" {
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }
  mock_data "google_dns_managed_zone" {
    defaults = {
      name_servers = ["ns-cloud-a1.googledomains.com."]
    }
  }
}

mock_provider "random" {}

run "rendered_platform_vars" {
  command = apply

  assert {
    condition     = output.cluster_name == "mlflow-${var.environment}"
    error_message = "the rendered platform inputs plan and apply"
  }
  assert {
    condition     = output.artifact_bucket == var.artifact_bucket
    error_message = "artifact bucket from the settings"
  }
}
