"""The offline plan's AWS layer as a Terraform plan (`terraform show -json` shape), for scanners that read plans."""
