"""The trust-anchor rotation controller: plain Python (no Pulumi) that the `trust-anchor-rotation` CronJob runs."""
