"""The credential report: plain Python (no Pulumi) that the `credential-report` CronJob in `vault` runs, from the
trust-anchor rotation's image (its Dockerfile copies all of components/ and config/; the CronJob's `command` picks
this package's main)."""
