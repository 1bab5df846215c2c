# Contract with the CLI: run by tests/infra/test_cloudrun.py with
#   terraform test -test-directory=contract -var-file=<cloudrun-platform-outputs.tfvars.json> -var-file=<cloudrun-tenants.tfvars.json>
# on what the CLI renders (src/mlflowk8s/targets/cloudrun/render.py), as the CLI runs the root.

mock_provider "google" {}

run "rendered_tenants_vars" {
  command = apply

  assert {
    condition     = toset(keys(output.tenants)) == toset(keys(var.users))
    error_message = "every rendered user becomes a tenant keyed by its name"
  }
  assert {
    condition     = toset(keys(google_cloud_run_v2_service.tenant)) == toset([for name, u in var.users : name if !u.retired])
    error_message = "every active rendered user gets a service (its args pass the service's preconditions: hosts, legacy host, folder)"
  }
  assert {
    condition     = alltrue([for name, s in google_cloud_run_v2_service.tenant : contains(local.allowed_hosts[name], local.tenants[name].host) && contains(local.allowed_hosts[name], local.legacy_host[name])])
    error_message = "the rendered --allowed-hosts name the deterministic host and the service's legacy pattern"
  }
}
