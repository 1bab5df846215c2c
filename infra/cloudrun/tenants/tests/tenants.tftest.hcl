# terraform test (offline, schema-only providers from ../shared/tfmirror, all mocked).
# tests/infra/test_cloudrun.py also reads the verbose plans of runs "add_c" and
# "retire_b_plan": adding a user only adds that user's resources, retiring one only
# removes that user's service, jobs and access.

# Every service account gets the same email (the jobs' env is asserted on it), but its own
# random name and member: the self-signing grants can be told apart per tenant.
mock_provider "google" {
  mock_resource "google_service_account" {
    defaults = {
      email = "mock@lab-project.iam.gserviceaccount.com"
    }
  }
}

variables {
  project_id   = "lab-project"
  environment  = "default"
  mlflow_image = "ghcr.io/mlflow/mlflow:v3.17.2-full@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

  project_number               = "123456789012"
  region                       = "europe-west1"
  sql_instance_connection_name = "lab-project:europe-west1:mlflow-default-run-ab12"
  sql_instance_name            = "mlflow-default-run-ab12"
  artifact_bucket              = "lab-artifacts"
  image_registry               = "europe-west1-docker.pkg.dev/lab-project/mlflow-default-ghcr"
  iap_service_agent            = "serviceAccount:service-123456789012@gcp-sa-iap.iam.gserviceaccount.com"

  users = {
    a = {
      members = ["user:a@lab.org"]
      server = {
        command = ["python", "-c", "launcher"]
        args    = ["--host", "0.0.0.0", "--port", "8080", "--allowed-hosts", "mlflow-default-a-123456789012.europe-west1.run.app,mlflow-default-a-*.a.run.app,localhost:*", "--artifacts-destination", "gs://lab-artifacts/a"]
        env     = { MLFLOW_DISABLE_TELEMETRY = "true", MLFLOW_BACKEND_STORE_URI = "sqlite:///not-this" }
      }
    }
    b = {
      members = ["user:b@lab.org", "group:b-team@lab.org"]
      server = {
        command = ["python", "-c", "launcher"]
        args    = ["--host", "0.0.0.0", "--port", "8080", "--allowed-hosts", "mlflow-default-b-123456789012.europe-west1.run.app,mlflow-default-b-*.a.run.app", "--artifacts-destination", "gs://lab-artifacts/b"]
        env     = {}
      }
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
    condition     = output.tenants["a"].url == "https://mlflow-default-a-123456789012.europe-west1.run.app" && output.tenants["b"].url == "https://mlflow-default-b-123456789012.europe-west1.run.app"
    error_message = "tenant URL is the deterministic https://<service>-<project number>.<region>.run.app"
  }
  assert {
    condition     = output.tenants["a"].legacy_url == google_cloud_run_v2_service.tenant["a"].uri && output.tenants["a"].run_app_urls == google_cloud_run_v2_service.tenant["a"].urls
    error_message = "the URLs the service reports are outputs too"
  }
  assert {
    condition     = output.tenants["a"].database == "mlflow_a" && output.tenants["a"].service == "mlflow-default-a" && google_sql_user.tenant["a"].name == "mlr-a-7505@lab-project.iam"
    error_message = "service, database and IAM database user derive from the user and environment names"
  }
  assert {
    condition     = alltrue([for s in google_cloud_run_v2_service.tenant : s.iap_enabled && s.ingress == "INGRESS_TRAFFIC_ALL" && !s.invoker_iam_disabled && !s.deletion_protection])
    error_message = "IAP on the service itself, invoker IAM checked, no deletion protection (retiring removes the service)"
  }
  assert {
    condition     = alltrue([for s in google_cloud_run_v2_service.tenant : s.template[0].scaling[0].min_instance_count == 0 && s.template[0].scaling[0].max_instance_count == 1 && s.template[0].timeout == "3600s"])
    error_message = "scale to zero, one instance at most, one-hour requests"
  }
  assert {
    condition     = google_cloud_run_v2_service.tenant["a"].template[0].containers[0].image == "europe-west1-docker.pkg.dev/lab-project/mlflow-default-ghcr/mlflow/mlflow@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    error_message = "the MLflow image is pulled by digest through the ghcr.io remote repository"
  }
  assert {
    condition = (
      google_cloud_run_v2_service.tenant["a"].template[0].containers[0].command == tolist(["python", "-c", "launcher"]) &&
      google_cloud_run_v2_service.tenant["a"].template[0].containers[0].args == tolist(var.users["a"].server.args)
    )
    error_message = "command and args are the CLI's, unchanged"
  }
  assert {
    condition     = { for e in google_cloud_run_v2_service.tenant["a"].template[0].containers[0].env : e.name => e.value } == { MLFLOW_DISABLE_TELEMETRY = "true", MLFLOW_BACKEND_STORE_URI = "postgresql+psycopg2://mlr-a-7505%40lab-project.iam@127.0.0.1:5432/mlflow_a" }
    error_message = "the CLI's env plus the Terraform-owned backend store URI (which wins)"
  }
  assert {
    condition = alltrue([for s in google_cloud_run_v2_service.tenant : (
      s.template[0].containers[0].depends_on == tolist(["cloud-sql-proxy"]) &&
      s.template[0].containers[0].resources[0].startup_cpu_boost &&
      s.template[0].containers[0].ports[0].container_port == 8080 &&
      s.template[0].containers[1].name == "cloud-sql-proxy" &&
      s.template[0].containers[1].startup_probe[0].tcp_socket[0].port == 5432 &&
      contains(s.template[0].containers[1].args, "--auto-iam-authn") &&
      contains(s.template[0].containers[1].args, "--lazy-refresh") &&
      s.template[0].containers[1].args[length(s.template[0].containers[1].args) - 1] == "lab-project:europe-west1:mlflow-default-run-ab12"
    )])
    error_message = "the Auth Proxy sidecar (IAM authn, lazy refresh, TCP startup probe) starts before MLflow"
  }
  assert {
    condition     = google_cloud_run_v2_service.tenant["a"].template[0].containers[0].resources[0].limits == tomap({ cpu = "1", memory = "1Gi" }) && google_cloud_run_v2_service.tenant["a"].template[0].containers[1].resources[0].limits == tomap({ cpu = "1", memory = "256Mi" })
    error_message = "memory and CPU from server_resources and proxy_resources"
  }
  assert {
    condition     = alltrue([for m in google_cloud_run_v2_service_iam_member.iap_invoker : m.role == "roles/run.invoker" && m.member == var.iap_service_agent]) && keys(google_cloud_run_v2_service_iam_member.iap_invoker) == ["a", "b"]
    error_message = "only the IAP service agent invokes the services"
  }
  assert {
    condition     = toset(keys(google_iap_web_cloud_run_service_iam_member.access)) == toset(["a/user:a@lab.org", "b/user:b@lab.org", "b/group:b-team@lab.org"])
    error_message = "one IAP binding per member of each tenant, nothing else"
  }
  assert {
    condition     = alltrue([for k, m in google_iap_web_cloud_run_service_iam_member.access : m.role == "roles/iap.httpsResourceAccessor" && m.cloud_run_service_name == "mlflow-default-${split("/", k)[0]}" && m.member == split("/", k)[1]])
    error_message = "each member gets IAP access to its own tenant's service only"
  }
  assert {
    condition = length([for m in concat(
      [for r in google_iap_web_cloud_run_service_iam_member.access : r.member],
      [for r in google_cloud_run_v2_service_iam_member.iap_invoker : r.member],
      [for r in google_storage_managed_folder_iam_member.tenant : r.member],
      [for r in google_project_iam_member.tenant_sql : r.member],
      [for r in google_project_iam_member.db_admin : r.member],
      [for r in google_service_account_iam_member.self_signing : r.member],
    ) : m if contains(["allUsers", "allAuthenticatedUsers"], m)]) == 0
    error_message = "nothing is public"
  }
  assert {
    condition     = keys(google_service_account_iam_member.self_signing) == ["a", "b"]
    error_message = "exactly one self-signing grant per active tenant"
  }
  assert {
    condition = alltrue([for k, m in google_service_account_iam_member.self_signing : (
      m.role == "roles/iam.serviceAccountTokenCreator" &&
      m.service_account_id == google_service_account.tenant[k].name &&
      m.member == google_service_account.tenant[k].member
    )])
    error_message = "each tenant signs as its own service account: Token Creator on itself, for itself"
  }
  assert {
    condition = (
      google_service_account_iam_member.self_signing["a"].member != google_service_account_iam_member.self_signing["b"].member &&
      google_service_account_iam_member.self_signing["a"].service_account_id != google_service_account_iam_member.self_signing["b"].service_account_id
    )
    error_message = "the grants name each tenant's own account (mocked names and members differ per tenant)"
  }
  assert {
    condition = length([for m in concat(values(google_project_iam_member.tenant_sql), values(google_project_iam_member.db_admin)) : m
    if m.role == "roles/iam.serviceAccountTokenCreator"]) == 0
    error_message = "no project-level Token Creator: it would let every tenant sign as every other"
  }
  assert {
    condition = alltrue([for j in concat(values(google_cloud_run_v2_job.setup), values(google_cloud_run_v2_job.upgrade)) : (
      !j.deletion_protection &&
      can(regex("^[0-9a-f]{8}$", j.run_execution_token)) &&
      length(j.name) + length(j.run_execution_token) < 63 &&
      j.template[0].template[0].containers[0].depends_on == tolist(["cloud-sql-proxy"]) &&
      contains(j.template[0].template[0].containers[1].args, "--quitquitquit") &&
      contains(j.template[0].template[0].containers[1].args, "--exit-zero-on-sigterm") &&
      j.template[0].template[0].containers[1].startup_probe[0].tcp_socket[0].port == 5432 &&
      j.template[0].template[0].containers[0].command[0] == "/bin/sh"
    )])
    error_message = "jobs: apply waits for a token-named execution, the proxy starts first and is told to quit at the end"
  }
  assert {
    condition     = google_cloud_run_v2_job.setup["a"].template[0].template[0].containers[0].args == tolist(["python", "-c", file("../../modules/tenant/db_setup.py")])
    error_message = "the setup job runs the GKE tenants' db_setup.py, read from its module"
  }
  assert {
    condition     = { for e in google_cloud_run_v2_job.setup["b"].template[0].template[0].containers[0].env : e.name => e.value if e.name != "STOP_PROXY" } == { ADMIN_DB_USER = "mock@lab-project.iam", TENANT_DATABASE = "mlflow_b", TENANT_DB_USER = "mlr-b-7505@lab-project.iam" }
    error_message = "the setup job gets the admin, the tenant's database and the tenant's IAM user"
  }
  assert {
    condition     = google_cloud_run_v2_job.setup["a"].template[0].template[0].service_account == google_service_account.db_admin.email && google_cloud_run_v2_job.upgrade["a"].template[0].template[0].service_account == google_service_account.tenant["a"].email
    error_message = "setup runs as the DB admin, the upgrade as the tenant (it owns the tables)"
  }
  assert {
    condition     = google_cloud_run_v2_job.upgrade["a"].template[0].template[0].containers[0].args == tolist(["mlflow", "db", "upgrade", "postgresql+psycopg2://mlr-a-7505%40lab-project.iam@127.0.0.1:5432/mlflow_a"])
    error_message = "the upgrade job runs mlflow db upgrade on the tenant's database"
  }
  assert {
    condition     = output.tenants["a"].jobs.setup.token == output.tenants["b"].jobs.setup.token && output.tenants["a"].jobs.upgrade.name == "mlflow-default-a-upgrade"
    error_message = "the tokens depend on what the jobs run, not on the tenant"
  }
}

# Same users plus c, planned on top of the applied {a, b}.
run "add_c" {
  command = plan

  variables {
    users = merge(var.users, {
      c = {
        members = ["user:c@lab.org"]
        server = {
          command = ["python", "-c", "launcher"]
          args    = ["--allowed-hosts", "mlflow-default-c-123456789012.europe-west1.run.app,mlflow-default-c-*.a.run.app", "--artifacts-destination", "gs://lab-artifacts/c"]
          env     = {}
        }
      }
    })
  }

  assert {
    condition     = output.tenants["a"] == run.ab.tenants["a"] && output.tenants["b"] == run.ab.tenants["b"]
    error_message = "adding c leaves a and b as they were"
  }
  assert {
    condition     = output.tenants["c"].url == "https://mlflow-default-c-123456789012.europe-west1.run.app"
    error_message = "c gets its own service and URL"
  }
}

# A new image digest reruns both jobs (new tokens) and rolls the services.
run "new_image" {
  command = plan

  variables {
    mlflow_image = "ghcr.io/mlflow/mlflow@sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
  }

  assert {
    condition     = output.tenants["a"].jobs.setup.token != run.ab.tenants["a"].jobs.setup.token && output.tenants["a"].jobs.upgrade.token != run.ab.tenants["a"].jobs.upgrade.token
    error_message = "a new image digest gives both jobs new execution tokens"
  }
  assert {
    condition     = google_cloud_run_v2_service.tenant["a"].template[0].containers[0].image == "europe-west1-docker.pkg.dev/lab-project/mlflow-default-ghcr/mlflow/mlflow@sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
    error_message = "the services run the new digest"
  }
}

# Retiring b, planned on top of the applied {a, b}.
run "retire_b_plan" {
  command = plan

  variables {
    users = merge(var.users, { b = merge(var.users["b"], { retired = true }) })
  }

  assert {
    condition     = output.tenants["b"].retired && length(output.tenants["b"].members) == 0 && output.tenants["b"].jobs == null
    error_message = "b is retired"
  }
}

run "retire_b" {
  command = apply

  variables {
    users = merge(var.users, { b = merge(var.users["b"], { retired = true }) })
  }

  assert {
    condition     = !contains(keys(google_cloud_run_v2_service.tenant), "b") && !contains(keys(google_cloud_run_v2_job.setup), "b") && !contains(keys(google_cloud_run_v2_job.upgrade), "b")
    error_message = "a retired tenant has no service and no jobs"
  }
  assert {
    condition     = !contains(keys(google_cloud_run_v2_service_iam_member.iap_invoker), "b") && toset(keys(google_iap_web_cloud_run_service_iam_member.access)) == toset(["a/user:a@lab.org"]) && length([for k in keys(google_project_iam_member.tenant_sql) : k if startswith(k, "b/")]) == 0
    error_message = "a retired tenant loses IAP access, the invoker binding and database access"
  }
  assert {
    condition     = keys(google_service_account_iam_member.self_signing) == ["a"]
    error_message = "a retired tenant can no longer sign"
  }
  assert {
    condition = (
      contains(keys(google_service_account.tenant), "b") && contains(keys(google_sql_user.tenant), "b") &&
      contains(keys(google_sql_database.tenant), "b") && contains(keys(google_storage_managed_folder.tenant), "b") &&
      contains(keys(google_storage_managed_folder_iam_member.tenant), "b")
    )
    error_message = "a retired tenant keeps its data: service account, database user, database, managed folder and its IAM"
  }
  assert {
    condition     = output.tenants["a"] == run.ab.tenants["a"] && output.tenants["b"].url == run.ab.tenants["b"].url
    error_message = "retiring b leaves a alone; b's URL comes back with it"
  }
}

# b comes back, and the outputs are evaluated against a state that has b's service account
# and data but neither its jobs nor its service: a refresh-only plan (and so any run whose
# state lags the configuration) must not fail with "Invalid index".
run "returning_user_refresh_only" {
  command = plan

  plan_options {
    mode = refresh-only
  }

  assert {
    condition     = !output.tenants["b"].retired && output.tenants["b"].jobs.setup == null && output.tenants["b"].jobs.upgrade == null
    error_message = "a returning tenant's jobs read null until they exist"
  }
  assert {
    condition     = output.tenants["b"].legacy_url == null && output.tenants["b"].run_app_urls == [] && output.tenants["b"].url == run.ab.tenants["b"].url
    error_message = "a returning tenant's service URLs read null/[] until the service exists; its URL is known"
  }
  assert {
    condition     = output.tenants["a"].jobs == run.ab.tenants["a"].jobs && output.tenants["b"].database == "mlflow_b"
    error_message = "what exists reads as before"
  }
}

# The same return planned for a's service only (what `plan --user a` targets): the
# outputs evaluate, b's jobs are planned with it (a targeted plan takes every instance of
# the resources its targets depend on).
run "returning_user_targeted" {
  command = plan

  plan_options {
    target = [google_cloud_run_v2_service.tenant["a"]]
  }

  assert {
    condition     = !output.tenants["b"].retired && output.tenants["b"].jobs.setup.name == "mlflow-default-b-setup"
    error_message = "a targeted plan evaluates every tenant's outputs"
  }
  assert {
    condition     = output.tenants["a"].jobs == run.ab.tenants["a"].jobs
    error_message = "a's outputs are unchanged"
  }
}

run "all_retired" {
  command = apply

  variables {
    users = { for name, u in var.users : name => merge(u, { retired = true }) }
  }

  assert {
    condition = (
      length(google_cloud_run_v2_service.tenant) == 0 && length(google_cloud_run_v2_job.setup) == 0 &&
      length(google_cloud_run_v2_job.upgrade) == 0 && length(google_iap_web_cloud_run_service_iam_member.access) == 0 &&
      length(google_cloud_run_v2_service_iam_member.iap_invoker) == 0 && length(google_project_iam_member.tenant_sql) == 0 &&
      length(google_service_account_iam_member.self_signing) == 0
    )
    error_message = "with every tenant retired no service, job or access is left"
  }
  assert {
    condition     = length(google_sql_database.tenant) == 2 && length(google_storage_managed_folder.tenant) == 2 && length(google_sql_user.tenant) == 2 && length(google_service_account.tenant) == 2
    error_message = "every tenant keeps its data"
  }
}

run "retired_needs_no_server" {
  command = plan
  variables {
    users = { gone = { retired = true } }
  }
  assert {
    condition     = output.tenants["gone"].retired && output.tenants["gone"].database == "mlflow_gone"
    error_message = "a retired user needs no server command"
  }
}

run "public_member_rejected" {
  command = plan
  variables {
    users = { x = { members = ["allUsers"], retired = true } }
  }
  expect_failures = [var.users]
}

run "all_authenticated_users_rejected" {
  command = plan
  variables {
    users = { x = { members = ["allAuthenticatedUsers"], retired = true } }
  }
  expect_failures = [var.users]
}

run "active_user_needs_server" {
  command = plan
  variables {
    users = { x = { members = ["user:x@lab.org"] } }
  }
  expect_failures = [var.users]
}

run "invalid_user_name" {
  command = plan
  variables {
    users = { "Bad_Name" = { retired = true } }
  }
  expect_failures = [var.users]
}

run "url_label_too_long" {
  command = plan
  variables {
    environment = "staging-lab1"
    users       = { "abcdefghijklmnopqrst" = { retired = true } }
    # 7 + 12 + 1 + 20 + 1 + 23 digits > 63
    project_number = "12345678901234567890123"
  }
  expect_failures = [var.users]
}

run "host_missing_from_allowed_hosts" {
  command = plan
  variables {
    users = {
      a = {
        members = ["user:a@lab.org"]
        server  = { command = ["python"], args = ["--allowed-hosts", "example.org", "--artifacts-destination", "gs://lab-artifacts/a"] }
      }
    }
  }
  expect_failures = [google_cloud_run_v2_service.tenant]
}

run "legacy_host_missing_from_allowed_hosts" {
  command = plan
  variables {
    users = {
      a = {
        members = ["user:a@lab.org"]
        server  = { command = ["python"], args = ["--allowed-hosts", "mlflow-default-a-123456789012.europe-west1.run.app", "--artifacts-destination", "gs://lab-artifacts/a"] }
      }
    }
  }
  expect_failures = [google_cloud_run_v2_service.tenant]
}

# A wildcard for every Cloud Run service, or for another tenant, is refused.
run "unscoped_wildcard_rejected" {
  command = plan
  variables {
    users = {
      a = {
        members = ["user:a@lab.org"]
        server  = { command = ["python"], args = ["--allowed-hosts", "mlflow-default-a-123456789012.europe-west1.run.app,mlflow-default-a-*.a.run.app,*.a.run.app", "--artifacts-destination", "gs://lab-artifacts/a"] }
      }
    }
  }
  expect_failures = [google_cloud_run_v2_service.tenant]
}

run "other_tenants_wildcard_rejected" {
  command = plan
  variables {
    users = {
      a = {
        members = ["user:a@lab.org"]
        server  = { command = ["python"], args = ["--allowed-hosts", "mlflow-default-a-123456789012.europe-west1.run.app,mlflow-default-a-*.a.run.app,mlflow-default-b-*.a.run.app", "--artifacts-destination", "gs://lab-artifacts/a"] }
      }
    }
  }
  expect_failures = [google_cloud_run_v2_service.tenant]
}

run "image_not_pinned" {
  command = plan
  variables {
    mlflow_image = "ghcr.io/mlflow/mlflow:v3.17.2-full"
  }
  expect_failures = [var.mlflow_image]
}

run "image_not_on_ghcr" {
  command = plan
  variables {
    mlflow_image = "docker.io/mlflow/mlflow@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  }
  expect_failures = [var.mlflow_image]
}

run "invoker_must_be_the_iap_agent" {
  command = plan
  variables {
    iap_service_agent = "allUsers"
  }
  expect_failures = [var.iap_service_agent]
}
