terraform {
  required_version = ">= 1.9, < 2.0"

  # Settings (bucket, prefix mlflowk8s/<env>/cloudrun-platform) come from the CLI's -backend-config.
  backend "gcs" {}

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 7.42.0, < 9.0"
    }
    # Only for the IAP service agent (google_project_service_identity is beta-only).
    google-beta = {
      source  = "hashicorp/google-beta"
      version = ">= 7.42.0, < 9.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6, < 4.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = {
    app         = "mlflowk8s"
    environment = var.environment
  }
}

provider "google-beta" {
  project = var.project_id
  region  = var.region

  default_labels = {
    app         = "mlflowk8s"
    environment = var.environment
  }
}
