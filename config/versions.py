"""Every version the platform pins, in one place.

Kubernetes, engine and chart versions live here (never inline in a component) so an upgrade is one reviewed diff.
Each pin carries its source and a `# renovate:` comment that renovate.json's regex manager reads; a pin Renovate
cannot look up says instead that it is bumped by hand, and with which command to find the new version.
Python package pins live in requirements*.txt.
"""

from __future__ import annotations

from datetime import date
from typing import Final, NamedTuple

# --- Kubernetes on EKS ------------------------------------------------------------------------------------------
# End of *standard* support per minor version (after it EKS bills extended support at $0.60/h instead of $0.10/h).
# Ref: https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html (release calendar, read 2026-11;
# 1.36 released on EKS 2026-06-02, 14 months of standard support). 1.37 is not yet offered by EKS.
# The customer's first cluster ran 1.24, which left standard support on 2024-01-31 and extended support on
# 2025-01-31: it cannot be created today.
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
# Bumped by hand, with POSTGRES_PARAMETER_FAMILY (Renovate's aws-rds datasource would move the version alone):
# aws rds describe-db-engine-versions --engine postgres --query 'DBEngineVersions[].EngineVersion'
POSTGRES_ENGINE_VERSION: Final = "17"
POSTGRES_PARAMETER_FAMILY: Final = "postgres17"
# ActiveMQ, because Amazon MQ for RabbitMQ only encrypts at rest with an AWS-owned key (no customer key).
# Ref: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-amazonmq-broker-encryptionoptions.html
# ("does not apply to RabbitMQ brokers"); 5.19 is the recommended ActiveMQ line, patch upgrades are automatic.
# Bumped by hand (Renovate has no Amazon MQ datasource): aws mq describe-broker-engine-types --engine-type ACTIVEMQ
ACTIVEMQ_ENGINE_VERSION: Final = "5.19"
# Valkey: no extended-support surcharge (Redis OSS 4/5 carry one since 2026-02) and ~20% cheaper per node hour.
# Ref: https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/supported-engine-versions.html
# Bumped by hand, with VALKEY_PARAMETER_FAMILY (Renovate has no ElastiCache datasource):
# aws elasticache describe-cache-engine-versions --engine valkey --query 'CacheEngineVersions[].EngineVersion'
# 9.1 is the newest ElastiCache offers (checked 2026-12-07); its default parameter group family is valkey9.
# Ref: https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/engine-versions.html (ElastiCache version 9.1 for Valkey)
# Ref: https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/ParameterGroups.Engine.html (Valkey 9.1 and 9.0)
VALKEY_ENGINE_VERSION: Final = "9.1"
VALKEY_PARAMETER_FAMILY: Final = "valkey9"
# Current RDS certificate authority (rds-ca-2019 expired 2024-08).
# Ref: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html
RDS_CA_IDENTIFIER: Final = "rds-ca-rsa2048-g1"

# --- Helm charts ------------------------------------------------------------------------------------------------
# Every key the values builders set is checked against these exact versions (tests/upstream_facts/chart_keys/,
# tools/chart_data/chart_keys.py):
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
# The Vault Agent injector (vault-k8s) image tag; the chart's default (values.yaml injector.image.tag), set explicitly
# like VAULT_VERSION. The agent it injects runs injector.agentImage, left at the chart's default: the server's version.
# Ref: https://github.com/hashicorp/vault-helm/blob/v0.34.1/values.yaml (injector.image.tag "1.7.6",
# injector.agentImage.tag "2.0.4")
# renovate: datasource=docker depName=hashicorp/vault-k8s
VAULT_K8S_VERSION: Final = "1.7.6"
# Linkerd open source publishes edge releases only (the stable chart repository stopped at stable-2.14.10);
# edge-26.8.3 is chart version 2026.8.3 of linkerd-crds, linkerd-control-plane, linkerd2-cni and linkerd-viz alike.
# Ref: https://linkerd.io/2-edge/tasks/install-helm/ ; https://github.com/linkerd/linkerd2/releases/tag/edge-26.8.3
# renovate: datasource=helm registryUrl=https://helm.linkerd.io/edge depName=linkerd-control-plane
LINKERD_CHART: Final = "2026.8.3"
LINKERD_REPOSITORY: Final = "https://helm.linkerd.io/edge"

# --- EKS add-ons ----------------------------------------------------------------------------------------------------
# Container logs (Fluent Bit) + the CloudWatch agent, as the managed EKS add-on. The add-on is built from the
# amazon-cloudwatch-observability Helm chart of the same version; its configuration values are that chart's values
# (key list: tests/upstream_facts/chart_keys/amazon-cloudwatch-observability-6.4.0.txt).
# Ref: https://github.com/aws-observability/helm-charts/blob/93a934e8ccfa228fda6a5f653c3da59c5546afcf/RELEASE_NOTES
# (v6.4.0, 2026-07-21) ; https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/install-CloudWatch-Observability-EKS-addon.html
# Not verified against `aws eks describe-addon-versions` (no AWS access here): the "-eksbuild.1" suffix is the first
# EKS build of a chart release; check it with that command before the first `pulumi up`.
# Renovate's aws-eks-addon datasource asks AWS (eks:DescribeAddonVersions) for builds for this Kubernetes version.
# renovate: datasource=aws-eks-addon depName=amazon-cloudwatch-observability
#   packageName={"kubernetesVersion":"1.36","addonName":"amazon-cloudwatch-observability"}
CLOUDWATCH_OBSERVABILITY_ADDON: Final = "v6.4.0-eksbuild.1"

# --- Backup job images -----------------------------------------------------------------------------------------
# The raft snapshot CronJob runs the Vault CLI of the server's own version (a snapshot is read by the same release
# that restores it) from the image the chart deploys (vault-helm v0.34.1 values.yaml server.image.repository).
VAULT_IMAGE: Final = f"hashicorp/vault:{VAULT_VERSION}"
# AWS CLI v2 from Amazon ECR Public (AWS recommends it over Docker Hub: no pull rate limit). 2.36.15 is a published
# tag (pinned by public projects, e.g. with digest sha256:310813a7...; the digest is not verified here).
# Ref: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-docker.html ;
# https://gallery.ecr.aws/aws-cli/aws-cli
# renovate: datasource=docker depName=public.ecr.aws/aws-cli/aws-cli
AWS_CLI_IMAGE: Final = "public.ecr.aws/aws-cli/aws-cli:2.36.15"

# --- Velero (optional, sandbox only: the customer's brief declined it) ---------------------------------------------
# Chart 11.4.0 ships Velero 1.17.1; the AWS plugin line for Velero 1.17 is v1.13.x (plugin README compatibility
# table). The chart of Velero 1.18 (12.x) is not used: no GA v1.14 plugin was published when this was checked.
# Ref: https://github.com/vmware-tanzu/helm-charts/blob/velero-11.4.0/charts/velero/Chart.yaml (commit d3c3d645);
# https://github.com/vmware-tanzu/velero-plugin-for-aws/blob/v1.13.2/README.md (Compatibility)
# renovate: datasource=helm registryUrl=https://vmware-tanzu.github.io/helm-charts depName=velero
VELERO_CHART: Final = "11.4.0"
VELERO_REPOSITORY: Final = "https://vmware-tanzu.github.io/helm-charts"
# renovate: datasource=docker depName=velero/velero
VELERO_VERSION: Final = "v1.17.1"
# renovate: datasource=docker depName=velero/velero-plugin-for-aws
VELERO_PLUGIN_AWS_IMAGE: Final = "velero/velero-plugin-for-aws:v1.13.2"
# AWS Load Balancer Controller: the eks-charts chart is built from the controller repository's helm/ directory; chart
# version and appVersion move together (3.5.0 / v3.5.0, the newest release tag on 2026-11-22).
# Ref: https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/v3.5.0/helm/aws-load-balancer-controller/Chart.yaml
# renovate: datasource=helm registryUrl=https://aws.github.io/eks-charts depName=aws-load-balancer-controller
AWS_LOAD_BALANCER_CONTROLLER_CHART: Final = "3.5.0"
AWS_LOAD_BALANCER_CONTROLLER_REPOSITORY: Final = "https://aws.github.io/eks-charts"

# --- Images -----------------------------------------------------------------------------------------------------
# The public entry's reverse proxy: NGINX stable 1.30.4 on Alpine (slim variant: no njs/geoip modules), built to run
# as UID 101 with its pid and temp files under /tmp, listening on 8080.
# Ref: https://github.com/nginx/docker-nginx-unprivileged/blob/e26803b6ff7ca01455284231c59f20cb5e3ae82e/stable/alpine-slim/Dockerfile
# (ENV NGINX_VERSION=1.30.4, ARG UID=101, USER $UID, EXPOSE 8080). Tags are rebuilt weekly; pin a digest to freeze.
# renovate: datasource=docker depName=nginxinc/nginx-unprivileged
INGRESS_PROXY_IMAGE: Final = "docker.io/nginxinc/nginx-unprivileged:1.30.4-alpine-slim"
INGRESS_PROXY_UID: Final = 101
# The trust-anchor rotation CronJob's image: this repository's own build (components/mesh/anchor_rotation/Dockerfile)
# pushed to the stack's ECR repository (immutable tags): bump it with every change of the code the image carries.
ANCHOR_ROTATION_IMAGE_TAG: Final = "1.0.0"
# Prometheus Operator v0.93.1 with Prometheus, Alertmanager v0.34.0 and Grafana (subchart grafana 12.11.1 from
# grafana-community/helm-charts, Grafana 13.2.0). Key lists:
# tests/upstream_facts/chart_keys/kube-prometheus-stack-88.5.3.txt and
# grafana-12.11.1.txt; CRD fields: tests/upstream_facts/monitoring_crd_fields.yaml.
# Ref: https://github.com/prometheus-community/helm-charts/tree/kube-prometheus-stack-88.5.3/charts/kube-prometheus-stack
# (tag commit ea930baeebeba39f56d6b44e351f23b2a072a600)
# renovate: datasource=helm registryUrl=https://prometheus-community.github.io/helm-charts depName=kube-prometheus-stack
KUBE_PROMETHEUS_STACK_CHART: Final = "88.5.3"
KUBE_PROMETHEUS_STACK_REPOSITORY: Final = "https://prometheus-community.github.io/helm-charts"
# The Grafana subchart version this kube-prometheus-stack pin depends on (Chart.yaml dependencies); not installed on
# its own, recorded so the key list's file name follows the pin.
GRAFANA_SUBCHART: Final = "12.11.1"
# Its kube-state-metrics and prometheus-node-exporter subcharts (same repository; recorded for the same reason).
KUBE_STATE_METRICS_SUBCHART: Final = "8.4.0"
NODE_EXPORTER_SUBCHART: Final = "4.56.1"
# Argo CD (optional GitOps delivery of the app's manifests, `gitops.argocd`): chart 10.1.1 = Argo CD v3.4.4.
# Ref: https://github.com/argoproj/argo-helm/blob/argo-cd-10.1.1/charts/argo-cd/Chart.yaml (tag commit af0a9310)
# renovate: datasource=helm registryUrl=https://argoproj.github.io/argo-helm depName=argo-cd
ARGOCD_CHART: Final = "10.1.1"
ARGOCD_REPOSITORY: Final = "https://argoproj.github.io/argo-helm"
# Cluster Autoscaler (docs/autoscaling.md). Its minor version must equal the cluster's Kubernetes minor (the
# autoscaler vendors that release's scheduler); chart 9.59.0, the newest, still ships v1.35.0 (values.yaml image.tag),
# so the image tag is set: v1.36.1 is the 1.36 line's release of 2026-07-23.
# Ref: https://github.com/kubernetes/autoscaler/blob/cluster-autoscaler-chart-9.59.0/charts/cluster-autoscaler/Chart.yaml
# https://github.com/kubernetes/autoscaler/releases/tag/cluster-autoscaler-1.36.1 ;
# https://github.com/kubernetes/autoscaler/tree/master/cluster-autoscaler#releases (version compatibility)
# renovate: datasource=helm registryUrl=https://kubernetes.github.io/autoscaler depName=cluster-autoscaler
CLUSTER_AUTOSCALER_CHART: Final = "9.59.0"
CLUSTER_AUTOSCALER_REPOSITORY: Final = "https://kubernetes.github.io/autoscaler"
# Bumped with KUBERNETES_VERSION (a test keeps the minors equal). Renovate would move it across minors, so by hand:
# the newest `cluster-autoscaler-1.<minor>.*` tag of github.com/kubernetes/autoscaler.
CLUSTER_AUTOSCALER_IMAGE_TAG: Final = "v1.36.1"
# prometheus-adapter (chart 5.3.0 = adapter v0.12.0): serves Linkerd's request rate per pod to the HPAs as a
# custom metric. Ref: https://github.com/prometheus-community/helm-charts/tree/prometheus-adapter-5.3.0/charts/prometheus-adapter
# renovate: datasource=helm registryUrl=https://prometheus-community.github.io/helm-charts depName=prometheus-adapter
PROMETHEUS_ADAPTER_CHART: Final = "5.3.0"
PROMETHEUS_ADAPTER_REPOSITORY: Final = "https://prometheus-community.github.io/helm-charts"
# Flagger (chart 1.44.0 = Flagger 1.44.0): progressive canaries over Gateway API HTTPRoutes, analysed on Linkerd's
# metrics. Ref: https://github.com/fluxcd/flagger/blob/v1.44.0/charts/flagger/Chart.yaml
# renovate: datasource=helm registryUrl=https://flagger.app depName=flagger
FLAGGER_CHART: Final = "1.44.0"
FLAGGER_REPOSITORY: Final = "https://flagger.app"


# --- Every chart the program installs ----------------------------------------------------------------------------
class PinnedChart(NamedTuple):
    name: str  # the chart's name in its repository (the release of the same name installs it)
    version: str
    repository: str


# Derived from the pins above (one version per line of this file): `make charts` (tools/charts) pulls exactly these
# into .charts/ for the render tests, and a test keeps the list equal to the releases the plans register.
HELM_CHARTS: Final[tuple[PinnedChart, ...]] = (
    PinnedChart("cert-manager", CERT_MANAGER_CHART, CERT_MANAGER_REPOSITORY),
    PinnedChart("vault", VAULT_CHART, VAULT_REPOSITORY),
    *(PinnedChart(name, LINKERD_CHART, LINKERD_REPOSITORY)
      for name in ("linkerd-crds", "linkerd2-cni", "linkerd-control-plane", "linkerd-viz")),
    PinnedChart("aws-load-balancer-controller", AWS_LOAD_BALANCER_CONTROLLER_CHART,
                AWS_LOAD_BALANCER_CONTROLLER_REPOSITORY),
    PinnedChart("kube-prometheus-stack", KUBE_PROMETHEUS_STACK_CHART, KUBE_PROMETHEUS_STACK_REPOSITORY),
    PinnedChart("velero", VELERO_CHART, VELERO_REPOSITORY),  # optional: backup.veleroEnabled (sandbox)
    PinnedChart("argo-cd", ARGOCD_CHART, ARGOCD_REPOSITORY),  # optional: gitops.argocd
    PinnedChart("cluster-autoscaler", CLUSTER_AUTOSCALER_CHART, CLUSTER_AUTOSCALER_REPOSITORY),
    PinnedChart("prometheus-adapter", PROMETHEUS_ADAPTER_CHART, PROMETHEUS_ADAPTER_REPOSITORY),  # with monitoring
    PinnedChart("flagger", FLAGGER_CHART, FLAGGER_REPOSITORY),  # optional: rollout.progressive
)
