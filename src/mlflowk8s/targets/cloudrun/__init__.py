"""The cloudrun target: one Cloud Run service per tenant behind IAP (infra/cloudrun)."""
