terraform {
  required_version = ">= 1.9, < 2.0"

  # Settings (bucket, prefix mlflowk8s/<env>/tenants) come from the CLI's -backend-config.
  backend "gcs" {}

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 8.0, < 9.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = ">= 3.0, < 4.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

data "google_client_config" "this" {}

# The cluster exists already (platform root, applied first): kubernetes_manifest reads
# the Gateway API CRDs from it at plan time.
provider "kubernetes" {
  host                   = "https://${var.cluster_endpoint}"
  cluster_ca_certificate = base64decode(var.cluster_ca_certificate)
  token                  = data.google_client_config.this.access_token
}
