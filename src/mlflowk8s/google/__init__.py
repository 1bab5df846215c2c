"""What the Google Cloud targets (gcp, cloudrun) share, taking plain arguments: the
Terraform state bucket and its locks, two roots applied in order against ``gs://TF_GCS_BUCKET``,
artifact data, the project's IAP settings, the network's peering."""
