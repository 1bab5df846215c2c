"""Google Cloud pieces every Google target shares (artifact data, IAP settings, network),
taking plain arguments: no target's settings or Terraform roots are read here."""
