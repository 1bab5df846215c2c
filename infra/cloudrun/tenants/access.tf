# --- who reaches a tenant's service (active only) --------------------------------------
# IAP invokes the service as its service agent, which alone holds roles/run.invoker; the
# tenant's members hold roles/iap.httpsResourceAccessor on that service only. No
# allUsers or allAuthenticatedUsers anywhere (the users variable rejects them).

locals {
  access = merge([
    for name, u in local.active : {
      for member in u.members : "${name}/${member}" => { user = name, member = member }
    }
  ]...)
}

resource "google_cloud_run_v2_service_iam_member" "iap_invoker" {
  for_each = local.active

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.tenant[each.key].name
  role     = "roles/run.invoker"
  member   = var.iap_service_agent
}

resource "google_iap_web_cloud_run_service_iam_member" "access" {
  for_each = local.access

  project                = var.project_id
  location               = var.region
  cloud_run_service_name = google_cloud_run_v2_service.tenant[each.value.user].name
  role                   = "roles/iap.httpsResourceAccessor"
  member                 = each.value.member
}
