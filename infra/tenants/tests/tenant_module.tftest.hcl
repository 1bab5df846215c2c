# The tenant module on its own: what one user gets, active and retired.

mock_provider "google" {
  mock_resource "google_service_account" {
    defaults = {
      email = "mlf-data-team-4a5b@lab-project.iam.gserviceaccount.com"
    }
  }
}

mock_provider "kubernetes" {}

variables {
  project_id            = "lab-project"
  environment           = "default"
  name                  = "data-team"
  domain                = "mlflow.lab.org"
  members               = ["user:alice@lab.org", "group:data-team@lab.org"]
  retired               = false
  server_command        = ["python", "-c", "<launcher source>", "--host", "0.0.0.0", "--port", "5000", "--static-prefix", "/data-team", "--allowed-hosts", "mlflow.lab.org,mlflow.lab.org:*,10.*,localhost,localhost:*,127.0.0.1,127.0.0.1:*", "--artifacts-destination", "gs://lab-artifacts/data-team", "--serve-artifacts", "--forwarded-allow-ips=*", "--timeout-keep-alive=620"]
  ready_path            = "/data-team/ready"
  static_prefix         = "/data-team"
  artifacts_destination = "gs://lab-artifacts/data-team"
  server_env = {
    MLFLOW_DISABLE_TELEMETRY            = "true"
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION  = "false"
    MLFLOW_SQLALCHEMYSTORE_POOL_SIZE    = "2"
    MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW = "3"
  }
  mlflow_image                 = "ghcr.io/mlflow/mlflow@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  cloudsql_proxy_image         = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3"
  sql_instance_name            = "mlflow-default-ab12"
  sql_instance_connection_name = "lab-project:europe-west1:mlflow-default-ab12"
  artifact_bucket              = "lab-artifacts"
  gateway_name                 = "mlflow"
  gateway_namespace            = "mlflowk8s-system"
  iap_oauth_client_id          = "1234-abc.apps.googleusercontent.com"
  iap_oauth_client_secret      = "not-a-real-secret"
  db_setup_namespace           = "mlflowk8s-system"
  db_setup_service_account     = "db-admin"
  db_admin_user                = "mlflow-dba-default@lab-project.iam"
  server_resources = {
    requests = { cpu = "50m", memory = "320Mi" }
    limits   = { cpu = "1000m", memory = "1408Mi" }
  }
  proxy_resources = {
    requests = { cpu = "20m", memory = "32Mi" }
    limits   = { cpu = "500m", memory = "128Mi" }
  }
  tmp_size_limit = "640Mi"
}

run "active" {
  command = apply
  module {
    source = "../modules/tenant"
  }

  # --- names ---
  assert {
    condition     = kubernetes_namespace_v1.this[0].metadata[0].name == "mlflow-data-team"
    error_message = "namespace mlflow-<user>"
  }
  assert {
    condition     = google_sql_database.this.name == "mlflow_data_team" && google_sql_database.this.instance == "mlflow-default-ab12"
    error_message = "database mlflow_<user with - as _> in the shared instance"
  }
  assert {
    condition     = google_sql_user.this.type == "CLOUD_IAM_SERVICE_ACCOUNT" && google_sql_user.this.name == "mlf-data-team-4a5b@lab-project.iam"
    error_message = "IAM database user of the tenant's service account"
  }
  assert {
    condition     = output.service_account_email == "mlf-data-team-4a5b@lab-project.iam.gserviceaccount.com"
    error_message = "service account output"
  }

  # --- server ---
  assert {
    condition     = kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].container[0].command == var.server_command && try(length(kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].container[0].args), 0) == 0
    error_message = "the container runs the CLI's launcher command (python -c …), not `mlflow server`"
  }
  assert {
    condition     = contains(kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].container[0].command, "/data-team") && contains(kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].container[0].command, "gs://lab-artifacts/data-team")
    error_message = "static prefix and artifact destination are the user's"
  }
  assert {
    condition = alltrue([
      kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].container[0].readiness_probe[0].http_get[0].path == "/data-team/ready",
      kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].container[0].liveness_probe[0].http_get[0].path == "/data-team/health",
      kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].container[0].startup_probe[0].http_get[0].path == "/data-team/health",
      output.health_path == "/data-team/health",
    ])
    error_message = "readiness on the launcher's /<user>/ready (it reads the store), liveness and startup on /<user>/health"
  }
  assert {
    condition = alltrue([
      tostring(kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].security_context[0].run_as_user) == "1000",
      { for e in kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].container[0].env : e.name => e.value }["HOME"] == "/tmp",
      kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].container[0].volume_mount[0].mount_path == "/tmp",
      kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].volume[0].empty_dir[0].size_limit == "640Mi",
    ])
    error_message = "the pod forces uid 1000 (the image runs as root otherwise), HOME=/tmp on an emptyDir /tmp sized for a staged upload"
  }
  assert {
    condition     = { for e in kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].container[0].env : e.name => e.value }["MLFLOW_BACKEND_STORE_URI"] == "postgresql+psycopg2://mlf-data-team-4a5b%40lab-project.iam@127.0.0.1:5432/mlflow_data_team"
    error_message = "backend store URI: URL-encoded IAM user through the proxy on 127.0.0.1:5432, the tenant's database"
  }
  assert {
    condition     = { for e in kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].container[0].env : e.name => e.value }["MLFLOW_SQLALCHEMYSTORE_POOL_SIZE"] == "2"
    error_message = "server_env reaches the container"
  }
  assert {
    condition     = kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].init_container[0].name == "cloud-sql-proxy" && kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].init_container[0].restart_policy == "Always" && contains(kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].init_container[0].args, "--auto-iam-authn") && contains(kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].init_container[0].args, "--private-ip")
    error_message = "Cloud SQL Auth Proxy v2 native sidecar, private IP, IAM authn"
  }
  assert {
    condition     = kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].init_container[1].args == tolist(["db", "upgrade", "$(MLFLOW_BACKEND_STORE_URI)"])
    error_message = "mlflow db upgrade runs before the server"
  }
  assert {
    condition     = kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].security_context[0].run_as_non_root
    error_message = "non-root"
  }
  assert {
    condition     = kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].container[0].resources[0].requests["memory"] == "320Mi" && kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].container[0].resources[0].limits["memory"] == "1408Mi" && kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].init_container[1].image == var.mlflow_image
    error_message = "the CLI's sizing reaches the server; db upgrade runs in the same image"
  }

  assert {
    condition     = kubernetes_job_v1.db_setup[0].spec[0].backoff_limit >= 6 && kubernetes_job_v1.db_setup[0].spec[0].active_deadline_seconds >= 420
    error_message = "the setup Job retries for at least 7 minutes (Workload Identity propagation)"
  }
  assert {
    condition     = kubernetes_job_v1.db_setup[0].spec[0].template[0].spec[0].init_container[0].args == kubernetes_deployment_v1.this[0].spec[0].template[0].spec[0].init_container[0].args
    error_message = "the Job and the server run the same Auth Proxy sidecar"
  }

  # --- routing and IAP ---
  assert {
    condition     = kubernetes_manifest.route[0].manifest.spec.rules[0].matches[0].path.value == "/data-team" && kubernetes_manifest.route[0].manifest.spec.hostnames[0] == "mlflow.lab.org"
    error_message = "HTTPRoute on /<user> of the domain"
  }
  assert {
    condition     = kubernetes_manifest.route[0].manifest.spec.parentRefs[0].name == "mlflow" && kubernetes_manifest.route[0].manifest.spec.parentRefs[0].namespace == "mlflowk8s-system"
    error_message = "the route attaches to the shared Gateway"
  }
  assert {
    condition     = kubernetes_manifest.health_check[0].manifest.spec.default.config.httpHealthCheck.requestPath == "/data-team/health"
    error_message = "load balancer health check on /<user>/health"
  }
  assert {
    condition = alltrue([
      !can(kubernetes_manifest.health_check[0].manifest.spec.default.config.httpHealthCheck.port),
      !can(kubernetes_manifest.health_check[0].manifest.spec.default.config.httpHealthCheck.portName),
      !can(kubernetes_manifest.health_check[0].manifest.spec.default.config.httpHealthCheck.portSpecification),
    ])
    error_message = "no port in the health check: the CRD rejects port/portName with the default USE_SERVING_PORT"
  }
  assert {
    condition     = kubernetes_manifest.backend_policy[0].manifest.spec.default.iap.enabled && kubernetes_manifest.backend_policy[0].manifest.spec.default.timeoutSec >= 600
    error_message = "IAP on, long backend timeout"
  }
  assert {
    condition     = toset(keys(google_iap_web_iam_member.access)) == toset(var.members)
    error_message = "IAP access for exactly the user's members"
  }
  assert {
    condition     = alltrue([for m in google_iap_web_iam_member.access : m.role == "roles/iap.httpsResourceAccessor" && m.condition[0].expression == "request.host == \"mlflow.lab.org\" && (request.path == \"/data-team\" || request.path.startsWith(\"/data-team/\"))"])
    error_message = "IAP access is conditioned on the user's path"
  }

  # --- artifacts ---
  assert {
    condition     = google_storage_managed_folder.this.name == "data-team/" && google_storage_managed_folder.this.bucket == "lab-artifacts" && google_storage_managed_folder.this.force_destroy == false
    error_message = "managed folder <user>/ in the shared bucket, never force_destroy"
  }
  assert {
    condition     = google_storage_managed_folder_iam_member.this.member == "serviceAccount:mlf-data-team-4a5b@lab-project.iam.gserviceaccount.com"
    error_message = "folder access for the tenant's service account only"
  }
}

run "retired" {
  command = apply
  module {
    source = "../modules/tenant"
  }
  variables {
    retired = true
  }

  assert {
    condition     = google_sql_database.this.name == "mlflow_data_team" && google_sql_user.this.name == "mlf-data-team-4a5b@lab-project.iam"
    error_message = "a retired tenant keeps its database and database user"
  }
  assert {
    condition     = google_storage_managed_folder.this.name == "data-team/" && google_storage_managed_folder_iam_member.this.role == "roles/storage.objectUser"
    error_message = "a retired tenant keeps its managed folder"
  }
  assert {
    condition = alltrue([
      length(kubernetes_namespace_v1.this) == 0,
      length(kubernetes_deployment_v1.this) == 0,
      length(kubernetes_service_v1.this) == 0,
      length(kubernetes_manifest.route) == 0,
      length(kubernetes_manifest.backend_policy) == 0,
      length(kubernetes_manifest.health_check) == 0,
      length(kubernetes_job_v1.db_setup) == 0,
      length(kubernetes_secret_v1.iap) == 0,
    ])
    error_message = "a retired tenant loses server, route and policies"
  }
  assert {
    condition     = length(google_iap_web_iam_member.access) == 0 && length(output.members) == 0
    error_message = "a retired tenant loses IAP access"
  }
}

run "static_prefix_mismatch" {
  command = plan
  module {
    source = "../modules/tenant"
  }
  variables {
    static_prefix = "/someone-else"
  }
  expect_failures = [kubernetes_deployment_v1.this]
}

run "ready_path_outside_the_prefix" {
  command = plan
  module {
    source = "../modules/tenant"
  }
  variables {
    ready_path = "/someone-else/ready"
  }
  expect_failures = [kubernetes_deployment_v1.this]
}

run "artifact_destination_mismatch" {
  command = plan
  module {
    source = "../modules/tenant"
  }
  variables {
    artifacts_destination = "gs://lab-artifacts/other"
  }
  expect_failures = [kubernetes_deployment_v1.this]
}

run "missing_iap_secret" {
  command = plan
  module {
    source = "../modules/tenant"
  }
  variables {
    iap_oauth_client_secret = ""
  }
  expect_failures = [kubernetes_manifest.backend_policy]
}

run "invalid_name" {
  command = plan
  module {
    source = "../modules/tenant"
  }
  variables {
    name = "data_team"
  }
  expect_failures = [var.name]
}
