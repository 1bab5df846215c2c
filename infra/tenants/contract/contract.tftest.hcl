# Contract with the CLI: run by tests/infra/test_contract.py with
#   terraform test -test-directory=contract -var-file=<tenants.tfvars.json> -var-file=<platform-outputs.tfvars.json>
# and TF_VAR_iap_oauth_client_secret in the environment, as the CLI runs the root.

mock_provider "google" {
  mock_data "google_client_config" {
    defaults = {
      access_token = "mock-token"
    }
  }
}

mock_provider "kubernetes" {}

run "rendered_tenants_vars" {
  command = apply

  assert {
    condition     = toset(keys(output.tenants)) == toset(keys(var.users))
    error_message = "every rendered user becomes a tenant keyed by its name"
  }
  assert {
    condition     = alltrue([for name, t in output.tenants : t.url == "https://${var.domain}/${name}/" && t.retired == var.users[name].retired])
    error_message = "URL and retired state follow the rendered users"
  }
  assert {
    condition     = startswith(local.mlflow_image, "${var.image_registry}/mlflow/mlflow@sha256:")
    error_message = "the pinned ghcr.io image is pulled through the platform's Artifact Registry repository"
  }
}
