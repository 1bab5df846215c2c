"""The gcp target: GKE through Terraform (platform and tenants roots)."""
