"""What the Google Cloud targets (gcp, cloudrun) share: the Terraform state bucket, its
locks, and two roots applied in order against ``gs://TF_GCS_BUCKET``."""
