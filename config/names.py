"""Names more than one layer uses: the project, the environments, the namespaces of the platform, and the Secrets,
ConfigMaps and service accounts one layer creates and another reads (config rules, components, tools, audit).

A name written twice drifts; every layer imports it from here. A name only one component uses stays beside it.
"""

from __future__ import annotations

from typing import Final, Literal

PROJECT: Final = "mtls-platform"

Environment = Literal["sandbox", "dev", "staging", "prod"]
ENVIRONMENTS: Final[tuple[Environment, ...]] = ("sandbox", "dev", "staging", "prod")
# Environments that carry customer-like load, held to production standards: HA replicas, Multi-AZ data, private
# API endpoint, protected stateful resources.
HA_ENVIRONMENTS: Final[frozenset[str]] = frozenset({"staging", "prod"})

# --- namespaces ------------------------------------------------------------------------------------------------
# Kubernetes' own. Ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/#initial-namespaces
KUBE_SYSTEM: Final = "kube-system"
KUBERNETES_NAMESPACES: Final = ("default", KUBE_SYSTEM, "kube-public", "kube-node-lease")

LINKERD_NAMESPACE: Final = "linkerd"  # the control plane and its webhook Certificates
LINKERD_CNI_NAMESPACE: Final = "linkerd-cni"
CERT_MANAGER_NAMESPACE: Final = "cert-manager"
VAULT_NAMESPACE: Final = "vault"
MONITORING_NAMESPACE: Final = "monitoring"  # kube-prometheus-stack; the app namespace admits its scrapes
# The operator's governing Service of every Prometheus (port 9090, `web`): read by linkerd-viz, prometheus-adapter
# and Flagger's analysis (app layer), so it is named here.
PROMETHEUS_URL: Final = f"http://prometheus-operated.{MONITORING_NAMESPACE}.svc.cluster.local:9090"
ALB_CONTROLLER_NAMESPACE: Final = "aws-load-balancer-controller"
LINKERD_VIZ_NAMESPACE: Final = "linkerd-viz"  # with monitoring on
ARGOCD_NAMESPACE: Final = "argocd"  # with gitops.argocd on
VELERO_NAMESPACE: Final = "velero"  # with backup.veleroEnabled on
# Created by the CloudWatch Observability EKS add-on (container logs), not by a Namespace resource of ours.
CLOUDWATCH_NAMESPACE: Final = "amazon-cloudwatch"

# The namespaces `PlatformNamespaces` creates in every stack, in creation order.
PLATFORM_NAMESPACES: Final = (LINKERD_NAMESPACE, LINKERD_CNI_NAMESPACE, CERT_MANAGER_NAMESPACE, VAULT_NAMESPACE,
                              MONITORING_NAMESPACE, ALB_CONTROLLER_NAMESPACE)
# Every namespace the platform (or Kubernetes, or an add-on it installs) creates, whether or not this stack turns the
# feature on: the app namespace may be none of them (config rule `mesh`), or two layers would own one namespace.
RESERVED_NAMESPACES: Final = frozenset({*KUBERNETES_NAMESPACES, *PLATFORM_NAMESPACES, LINKERD_VIZ_NAMESPACE,
                                        ARGOCD_NAMESPACE, VELERO_NAMESPACE, CLOUDWATCH_NAMESPACE})

# --- objects one layer creates and another reads -----------------------------------------------------------------
# The Certificate and its kubernetes.io/tls Secret Linkerd's identity reads its issuer from (identity.externalCA).
IDENTITY_ISSUER: Final = "linkerd-identity-issuer"
# The ConfigMap of trust anchors Linkerd reads when identity.externalCA is true (key `ca-bundle.crt`).
TRUST_ROOTS_CONFIGMAP: Final = "linkerd-identity-trust-roots"
# The public edge's name in the app namespace (Deployment, ServiceAccount): every public service admits this
# identity, so no catalog service may take the name.
PUBLIC_INGRESS: Final = "public-ingress"

# The service account whose audience-bound tokens cert-manager's ClusterIssuer presents to Vault: the mesh layer
# creates it, the Vault bootstrap binds its Kubernetes auth role to exactly this name.
# Flagger's primary Deployment of a progressive service labels its pods `app.kubernetes.io/name: <svc>-primary`
# (fluxcd/flagger v1.44.0 pkg/canary/util.go makePrimaryLabels): the app layer's selectors and the vault namespace's
# NetworkPolicy (mesh layer) both need it.
PRIMARY_SUFFIX: Final = "-primary"
# The pod label (a label, not vault-k8s's annotation of the same key: webhook objectSelectors match labels only) that
# makes the API server call the Vault Agent injector for a pod; the app layer sets it on exactly the pods with a role.
VAULT_AGENT_LABEL: Final = "vault.hashicorp.com/agent-inject"
VAULT_ISSUER_SERVICE_ACCOUNT: Final = "vault-issuer"

# --- the cache's RBAC users: the data layer creates them, Vault's static roles rotate their passwords ---------------
# Vault's redis-elasticache plugin takes a static role's `username` as the ElastiCache *user id* (DescribeUsers and
# ModifyUser by UserId) and returns it as the credential's username, which a client AUTHs with: so each service user
# has user id = user name. User ids are unique per account and region, hence the stack's prefix.
# Ref: hashicorp/vault-plugin-database-redis-elasticache v0.9.1 redis_elasticache_client.go (UpdateUser).
CACHE_DEFAULT_USER_NAME: Final = "default"  # every ElastiCache user group must hold a user of this name


def cache_user_prefix(name_prefix: str) -> str:
    """The stack's prefix of its service users' ids."""
    return f"{name_prefix}-app"


def cache_user_id(user_prefix: str, service: str) -> str:
    """The ElastiCache user (id and name) of one catalog service."""
    return f"{user_prefix}-{service}"


def cache_access_string(service: str) -> str:
    """The user's access string: its own key and channel prefix, no dangerous or admin commands (ElastiCache and
    Valkey ACL syntax alike)."""
    # Ref: https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.RBAC.html (access strings).
    return f"on ~{service}:* &{service}:* +@all -@dangerous -@admin"
