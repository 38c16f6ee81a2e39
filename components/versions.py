"""Every version the platform pins, in one place.

Kubernetes, engine and chart versions live here (never inline in a component) so an upgrade is one reviewed diff.
Each pin carries its source and a renovate-style comment so a bot, or a person, can find the upstream release feed.
Python package pins live in requirements*.txt.
"""

from __future__ import annotations

from datetime import date
from typing import Final

# --- Kubernetes on EKS ------------------------------------------------------------------------------------------
# End of *standard* support per minor version (after it EKS bills extended support at $0.60/h instead of $0.10/h).
# Ref: https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html (release calendar, read 2026-11;
# 1.36 released on EKS 2026-06-02, 14 months of standard support). 1.37 is not yet offered by EKS.
# The seed's 1.24 left standard support on 2024-01-31 and extended support on 2025-01-31: it cannot be created today.
EKS_STANDARD_SUPPORT_END: Final[dict[str, date]] = {
    "1.33": date(2026, 7, 29),
    "1.34": date(2026, 12, 2),
    "1.35": date(2027, 3, 27),
    "1.36": date(2027, 8, 2),
}
# renovate: datasource=endoflife-date depName=amazon-eks
KUBERNETES_VERSION: Final = "1.36"

# --- Managed data services ------------------------------------------------------------------------------------
# Major version only: RDS then applies minor versions in the maintenance window (auto_minor_version_upgrade).
# Ref: https://docs.aws.amazon.com/AmazonRDS/latest/PostgreSQLReleaseNotes/postgresql-versions.html
# renovate: datasource=aws-rds depName=postgres
POSTGRES_ENGINE_VERSION: Final = "17"
POSTGRES_PARAMETER_FAMILY: Final = "postgres17"
# ActiveMQ, because Amazon MQ for RabbitMQ only encrypts at rest with an AWS-owned key (no customer key).
# Ref: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-amazonmq-broker-encryptionoptions.html
# ("does not apply to RabbitMQ brokers"); 5.19 is the recommended ActiveMQ line, patch upgrades are automatic.
# renovate: datasource=aws-mq depName=activemq
ACTIVEMQ_ENGINE_VERSION: Final = "5.19"
# Valkey: no extended-support surcharge (Redis OSS 4/5 carry one since 2026-02) and ~20% cheaper per node hour.
# Ref: https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/supported-engine-versions.html
# renovate: datasource=aws-elasticache depName=valkey
VALKEY_ENGINE_VERSION: Final = "8.1"
VALKEY_PARAMETER_FAMILY: Final = "valkey8"
# Current RDS certificate authority (rds-ca-2019 expired 2024-08).
# Ref: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html
RDS_CA_IDENTIFIER: Final = "rds-ca-rsa2048-g1"

# --- Helm charts ------------------------------------------------------------------------------------------------
# Every key the values builders set is checked against these exact versions (tests/chart_keys/, tools/chart_keys.py):
# bump a pin, regenerate its key list, and the tests show what moved.
# cert-manager's chart version is its release tag, leading "v" included.
# Ref: https://cert-manager.io/docs/installation/helm/ ; https://github.com/cert-manager/cert-manager/releases/tag/v1.21.1
# renovate: datasource=helm registryUrl=https://charts.jetstack.io depName=cert-manager
CERT_MANAGER_CHART: Final = "v1.21.1"
CERT_MANAGER_REPOSITORY: Final = "https://charts.jetstack.io"
# Ref: https://github.com/hashicorp/vault-helm/blob/v0.34.1/Chart.yaml (version 0.34.1, appVersion 2.0.4)
# renovate: datasource=helm registryUrl=https://helm.releases.hashicorp.com depName=vault
VAULT_CHART: Final = "0.34.1"
VAULT_REPOSITORY: Final = "https://helm.releases.hashicorp.com"
# The Vault server image tag; equals the chart's default (values.yaml server.image.tag), set explicitly so a chart
# bump cannot move the server version unnoticed.
# Ref: https://github.com/hashicorp/vault-helm/blob/v0.34.1/values.yaml (server.image.tag "2.0.4")
# renovate: datasource=docker depName=hashicorp/vault
VAULT_VERSION: Final = "2.0.4"
# Linkerd open source publishes edge releases only (the stable chart repository stopped at stable-2.14.10);
# edge-26.8.3 is chart version 2026.8.3 of linkerd-crds, linkerd-control-plane, linkerd2-cni and linkerd-viz alike.
# Ref: https://linkerd.io/2-edge/tasks/install-helm/ ; https://github.com/linkerd/linkerd2/releases/tag/edge-26.8.3
# renovate: datasource=helm registryUrl=https://helm.linkerd.io/edge depName=linkerd-control-plane
LINKERD_CHART: Final = "2026.8.3"
LINKERD_REPOSITORY: Final = "https://helm.linkerd.io/edge"
# Argo CD (optional GitOps delivery of the app's manifests, `gitops.argocd`): chart 10.1.1 = Argo CD v3.4.4.
# Ref: https://github.com/argoproj/argo-helm/blob/argo-cd-10.1.1/charts/argo-cd/Chart.yaml (tag commit af0a9310)
# renovate: datasource=helm registryUrl=https://argoproj.github.io/argo-helm depName=argo-cd
ARGOCD_CHART: Final = "10.1.1"
ARGOCD_REPOSITORY: Final = "https://argoproj.github.io/argo-helm"
