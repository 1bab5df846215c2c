terraform {
  required_version = ">= 1.9, < 2.0"

  # Settings (bucket, prefix mlflowk8s/<env>/cloudrun-tenants) come from the CLI's -backend-config.
  backend "gcs" {}

  required_providers {
    google = {
      source = "hashicorp/google"
      # run_execution_token (apply waits for the job's execution) is GA from 7.42.0.
      version = ">= 7.42.0, < 9.0"
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
