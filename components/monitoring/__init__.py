"""Operations in the cluster (`mtls-platform:monitoring`): kube-prometheus-stack, linkerd-viz, scrape targets,
alerts and dashboards.
"""
