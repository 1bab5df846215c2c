output "tenants" {
  description = "Every tenant (retired ones too) keyed by user name: url, members with IAP access, namespace, service account, database, retired, image (what its server runs, from its Deployment; null while retired)."
  value = {
    for name, t in module.tenant : name => {
      url                   = t.url
      members               = t.members
      namespace             = t.namespace
      service_account_email = t.service_account_email
      database              = t.database
      retired               = t.retired
      image                 = t.image
    }
  }
}

output "gateway_name" {
  description = "Name of the shared Gateway; it exists while any tenant is active."
  value       = local.gateway_name
}

output "gateway_namespace" {
  description = "Namespace of the shared Gateway and of the database setup Jobs."
  value       = local.system_namespace
}
