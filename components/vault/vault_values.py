"""Helm values for Vault (vault-helm 0.34.1, Vault 2.0.4): the platform's root of trust and secret store.

Vault runs as a raft cluster (3 voters in HA, 1 otherwise) behind its own TLS listener, unseals through the awskms
seal with IRSA credentials (no static AWS key anywhere), and writes its audit log to a dedicated volume. Keys were
checked against the chart's values.yaml and templates at tag v0.34.1 (commit aa1c92e4); the server configuration
(HCL) follows https://developer.hashicorp.com/vault/docs/configuration.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Final

import pulumi

from components.shared.chart_values import Values, resources, zone_spread
from components.vault.bootstrap.app_secrets import RDS_CA_FILE
from config.names import VAULT_AGENT_LABEL
from config.versions import AWS_CLI_IMAGE, VAULT_K8S_VERSION, VAULT_VERSION

# The chart's names are pinned with fullnameOverride (read by templates/_helpers.tpl "vault.fullname") so pods are
# vault-0..N-1 behind the headless service vault-internal whatever the Helm release is called: the raft retry_join
# addresses and the TLS certificate's names depend on them.
VAULT_FULLNAME: Final = "vault"
# vault-helm's default server service account name (values.yaml server.serviceAccount); the IRSA role (vault_aws,
# which imports this name) trusts only system:serviceaccount:vault:vault.
VAULT_SERVICE_ACCOUNT: Final = "vault"
TLS_MOUNT: Final = "/vault/userconfig/tls"  # where the listener's Secret (tls.crt, tls.key, ca.crt) is mounted
API_PORT, CLUSTER_PORT = 8200, 8201
# Ready = initialised-or-not-yet, and unsealed; standbys count as ready. Uninitialised answers 204 so the release
# (and the bootstrap that initialises Vault) is not blocked before `vault operator init`; the chart's default probe
# (`vault status`, exit 2 while sealed or uninitialised) never passes on a fresh install.
# Ref: https://github.com/hashicorp/vault-helm/issues/17 , https://github.com/hashicorp/vault-helm/issues/375
# Sealed stays 503 (unlike the sealedcode=204 variant in #375): with auto-unseal a sealed pod means the KMS key or
# IRSA is broken, and it must not count as available for the disruption budget.
# Ref: https://developer.hashicorp.com/vault/api-docs/system/health (uninitcode, standbyok)
READINESS_PATH: Final = "/v1/sys/health?standbyok=true&uninitcode=204"
# Placeholders the chart's start-up script replaces with sed (templates/_helpers.tpl "vault.args"); the config must
# not contain them by accident.
CHART_PLACEHOLDERS: Final = ("HOST_IP", "POD_IP", "HOSTNAME", "API_ADDR", "TRANSIT_ADDR", "RAFT_ADDR")

_SAFE_HCL = re.compile(r"^[A-Za-z0-9:/_.\-]+$")  # region, key ids, ARNs and aliases: nothing that ends a string
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")  # us-east-1, ap-southeast-2, us-gov-west-1
_QUANTITY = re.compile(r"^[1-9][0-9]*(Mi|Gi|Ti)$")
_POD_LABELS: Final = {"app.kubernetes.io/name": "vault", "component": "server"}  # server-statefulset.yaml labels


@dataclass(frozen=True)
class VaultValuesArgs:
    ha: bool  # 3 raft voters, zone spread and a disruption budget; otherwise one raft node
    region: str  # AWS region of the unseal key
    kms_key_id: pulumi.Input[str]  # unseal key id or ARN (components.vault.vault_aws unseal_key)
    irsa_role_arn: pulumi.Input[str]  # role the vault service account assumes (IRSA) for the seal
    tls_secret_name: str  # kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt for the listener
    storage_class: str  # encrypted gp3 StorageClass for the raft and audit volumes
    storage_size: str = "10Gi"  # raft data volume per pod
    audit_storage_size: str = "10Gi"  # audit log volume per pod
    namespace: str = "vault"  # namespace of the release (used in the certificate names)
    # The database secrets engine connects to RDS (verify-full): the pods fetch the region's RDS CA bundle at start.
    rds_ca_bundle: bool = False
    # The Vault Agent injector, on when some app service has a Vault role: its webhook mutates pods of this namespace
    # only, and serves the certificate cert-manager keeps in `injector_tls_secret` (`injector_certificate` is that
    # Certificate as `<namespace>/<name>`, whose CA cainjector copies into the webhook configuration). "" = off.
    injector_namespace: str = ""
    injector_tls_secret: str = ""
    injector_certificate: str = ""

    def __post_init__(self) -> None:
        problems = []
        if not _SAFE_HCL.match(self.region) or (self.rds_ca_bundle and not _REGION.fullmatch(self.region)):
            problems.append(f"region {self.region!r} is not an AWS region name")
        if isinstance(self.kms_key_id, str) and not _SAFE_HCL.match(self.kms_key_id):
            problems.append(f"kms_key_id {self.kms_key_id!r} is not a KMS key id, ARN or alias")
        for name in ("tls_secret_name", "storage_class", "namespace"):
            if not _DNS1123.match(getattr(self, name)):
                problems.append(f"{name} {getattr(self, name)!r} is not a valid Kubernetes name")
        if self.injector_namespace and not (_DNS1123.match(self.injector_namespace)
                                            and _DNS1123.match(self.injector_tls_secret)
                                            and "/" in self.injector_certificate):
            problems.append("the injector needs a valid app namespace, TLS Secret and <namespace>/<Certificate>")
        for name in ("storage_size", "audit_storage_size"):
            if not _QUANTITY.match(getattr(self, name)):
                problems.append(f"{name} {getattr(self, name)!r} is not a size like '10Gi'")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def replicas(self) -> int:
        return 3 if self.ha else 1


def pod_hosts(replicas: int) -> list[str]:
    """Stable names of the raft peers: StatefulSet pods behind the headless service (resolved in the namespace)."""
    return [f"{VAULT_FULLNAME}-{i}.{VAULT_FULLNAME}-internal" for i in range(replicas)]


def vault_server_hcl(replicas: int, region: str, kms_key_id: str) -> str:
    """Vault's server configuration: TLS listener, awskms seal through IRSA, raft storage joined over https."""
    for name, value in (("region", region), ("kms_key_id", kms_key_id)):
        if not _SAFE_HCL.match(value):
            raise ValueError(f"{name} {value!r} cannot be written into the Vault configuration")
    retry_join = "".join(
        f'  retry_join {{\n    leader_api_addr     = "https://{host}:{API_PORT}"\n'
        f'    leader_ca_cert_file = "{TLS_MOUNT}/ca.crt"\n  }}\n'
        for host in pod_hosts(replicas)
    )
    # api_addr and cluster_addr are not written here: the chart always sets VAULT_API_ADDR and VAULT_CLUSTER_ADDR
    # (server-statefulset.yaml), which Vault prefers; they come from server.ha.apiAddr/clusterAddr below.
    # disable_mlock: mlock and raft's memory-mapped BoltDB do not mix (the whole data set would be pinned in RAM);
    # Vault's docs advise it for integrated storage and the chart would append it anyway (_helpers.tpl "vault.config").
    # Ref: https://developer.hashicorp.com/vault/docs/configuration#disable_mlock
    return (
        "ui = false\n"
        "disable_mlock = true\n"
        "\n"
        'listener "tcp" {\n'
        f'  address         = "[::]:{API_PORT}"\n'
        f'  cluster_address = "[::]:{CLUSTER_PORT}"\n'
        "  tls_disable     = false\n"
        f'  tls_cert_file   = "{TLS_MOUNT}/tls.crt"\n'
        f'  tls_key_file    = "{TLS_MOUNT}/tls.key"\n'
        '  tls_min_version = "tls12"\n'
        # /v1/sys/metrics without a token, for Prometheus: the NetworkPolicy admits 8200 only from cert-manager and
        # monitoring, and the metrics carry no secret.
        # Ref: https://developer.hashicorp.com/vault/docs/configuration/listener/tcp#telemetry-parameters
        "  telemetry {\n"
        "    unauthenticated_metrics_access = true\n"
        "  }\n"
        "}\n"
        "\n"
        "# Credentials come from IRSA (the pod's web identity token), never from static AWS keys.\n"
        'seal "awskms" {\n'
        f'  region     = "{region}"\n'
        f'  kms_key_id = "{kms_key_id}"\n'
        "}\n"
        "\n"
        'storage "raft" {\n'
        '  path = "/vault/data"\n'
        f"{retry_join}"
        "}\n"
        "\n"
        'service_registration "kubernetes" {}\n'
        "\n"
        # Metrics in Prometheus format (vault_core_unsealed, vault_core_active... read by the monitoring alerts);
        # no hostname prefix so every pod reports the same metric names.
        # Ref: https://developer.hashicorp.com/vault/docs/configuration/telemetry#prometheus
        "telemetry {\n"
        '  prometheus_retention_time = "24h"\n'
        "  disable_hostname          = true\n"
        "}\n"
    )


# The RDS CA bundle: an emptyDir the init container fills and the server reads (sslrootcert of the PostgreSQL
# connection, components/vault/bootstrap/app_secrets.py RDS_CA_FILE: one name for both).
RDS_CA_VOLUME: Final = "rds-ca"
RDS_CA_DIR: Final = posixpath.dirname(RDS_CA_FILE)
RDS_CA_INIT_CONTAINER: Final = "fetch-rds-ca"


def rds_ca_bundle_url(region: str) -> str:
    """AWS's published per-region bundle (intermediate and root CAs of every RDS CA in the region), HTTPS only.

    Ref: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html ("Certificate bundles by AWS
    Region": https://truststore.pki.rds.amazonaws.com/<region>/<region>-bundle.pem)"""
    if not _REGION.fullmatch(region):
        raise ValueError(f"region {region!r} is not an AWS region name")
    return f"https://truststore.pki.rds.amazonaws.com/{region}/{region}-bundle.pem"


# The init container's script. curl verifies the server with the image's system trust store (no --insecure, no
# --cacert); https only, including redirects; written to a temporary name and moved, so the server never reads half
# a file; a non-PEM answer is refused. One line on stderr says what failed, and the pod stays in Init:Error, which
# `kubectl describe` / the termination message shows.
_FETCH_SCRIPT: Final = (
    'set -eu\n'
    'out="$RDS_CA_FILE"; tmp="$out.part"\n'
    'if ! curl -q --fail --silent --show-error --proto =https --proto-redir =https --tlsv1.2 --location '
    '--retry 4 --retry-connrefused --connect-timeout 10 --max-time 60 -o "$tmp" "$RDS_CA_URL"; then\n'
    '  echo "fetch-rds-ca: cannot download $RDS_CA_URL over verified HTTPS (egress 443 from the vault namespace, DNS'
    ' or the trust store); Vault cannot verify RDS without it" >&2; exit 1\n'
    'fi\n'
    'if ! grep -q -- "-----BEGIN CERTIFICATE-----" "$tmp"; then\n'
    '  echo "fetch-rds-ca: $RDS_CA_URL did not return PEM certificates" >&2; exit 1\n'
    'fi\n'
    'mv "$tmp" "$out"\n'
)


def rds_ca_init_container(region: str) -> Values:
    """Init container that downloads the region's RDS CA bundle into the shared emptyDir.

    The AWS CLI image (config.versions AWS_CLI_IMAGE, already pinned for the backup jobs) is Amazon Linux 2 with
    /bin/sh, curl and grep (its Dockerfile builds FROM amazonlinux:2; curl is part of that base image); its
    ENTRYPOINT is `aws`, so the command replaces it. It runs as the pod's non-root user, read-only root, no
    capabilities: the restricted profile (the pod context gives seccomp and runAsNonRoot).
    Ref: https://github.com/aws/aws-cli/blob/v2/docker/Dockerfile"""
    return {
        "name": RDS_CA_INIT_CONTAINER,
        "image": AWS_CLI_IMAGE,
        "command": ["/bin/sh", "-c", _FETCH_SCRIPT],
        "env": [{"name": "RDS_CA_URL", "value": rds_ca_bundle_url(region)},
                {"name": "RDS_CA_FILE", "value": RDS_CA_FILE}],
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "readOnlyRootFilesystem": True, "runAsNonRoot": True},
        "resources": resources("10m", "32Mi", "200m", "64Mi"),
        "volumeMounts": [{"name": RDS_CA_VOLUME, "mountPath": RDS_CA_DIR}],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


@dataclass(frozen=True)
class VaultTlsNames:
    """Names the listener certificate must carry for every way Vault is reached."""

    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]


def vault_tls_names(args: VaultValuesArgs) -> VaultTlsNames:
    """SANs for the listener certificate: raft peers (retry_join), services, and 127.0.0.1 (in-pod CLI, VAULT_ADDR)."""
    ns = args.namespace
    services = [VAULT_FULLNAME, f"{VAULT_FULLNAME}-active", f"{VAULT_FULLNAME}-standby", f"{VAULT_FULLNAME}-internal"]
    names = [*pod_hosts(args.replicas)]
    for service in services:
        names += [service, f"{service}.{ns}", f"{service}.{ns}.svc", f"{service}.{ns}.svc.cluster.local"]
    names += [f"{host}.{ns}.svc.cluster.local" for host in pod_hosts(args.replicas)]
    return VaultTlsNames(dns_names=tuple(names), ip_addresses=("127.0.0.1",))


def vault_values(args: VaultValuesArgs) -> Values:
    """Values for the vault chart. `server.ha.raft.config` is an Output when the KMS key id is one."""
    if isinstance(args.kms_key_id, str):
        config: pulumi.Input[str] = vault_server_hcl(args.replicas, args.region, args.kms_key_id)
    else:
        config = pulumi.Output.concat(args.kms_key_id).apply(
            lambda key: vault_server_hcl(args.replicas, args.region, key))
    server: Values = {
        "image": {"tag": VAULT_VERSION},
        # One raft node outside HA, with no disruption budget: Cluster Autoscaler must not drain its node to save
        # capacity (its volume is zonal and Vault restarts sealed-then-unsealed). In HA the PDB bounds the autoscaler.
        # Ref: https://github.com/kubernetes/autoscaler/blob/cluster-autoscaler-1.36.1/cluster-autoscaler/FAQ.md
        # ("What types of pods can prevent CA from removing a node?": safe-to-evict "false")
        **({} if args.ha else {"annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}}),
        "resources": resources("250m", "256Mi", "1", "512Mi"),
        "readinessProbe": {"enabled": True, "path": READINESS_PATH},
        "serviceAccount": {
            "name": VAULT_SERVICE_ACCOUNT,
            "annotations": {"eks.amazonaws.com/role-arn": args.irsa_role_arn},
        },
        # The listener's certificate. `volumes`/`volumeMounts` are rendered verbatim (the `extraVolumes` list is
        # deprecated in 0.34.1). /tmp is writable because the chart's start-up script writes the final config there
        # (_helpers.tpl "vault.args"), which lets the root filesystem be read-only.
        "volumes": [
            {"name": "tls", "secret": {"secretName": args.tls_secret_name, "defaultMode": 0o440}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}},
        ],
        "volumeMounts": [
            {"name": "tls", "mountPath": TLS_MOUNT, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        # The in-pod CLI (VAULT_ADDR=https://127.0.0.1:8200, set by the chart) verifies the listener with the CA.
        "extraEnvironmentVars": {"VAULT_CACERT": f"{TLS_MOUNT}/ca.crt"},
        "dataStorage": {"enabled": True, "size": args.storage_size, "storageClass": args.storage_class},
        # The file audit device (enabled by the bootstrap) writes to /vault/audit on this volume.
        "auditStorage": {"enabled": True, "size": args.audit_storage_size, "storageClass": args.storage_class},
        "ha": {
            # HA mode with raft in every environment (1 node outside HA): one configuration, and raft snapshots for
            # backups everywhere (the standalone "file" backend has none).
            "enabled": True,
            "replicas": args.replicas,
            # Addresses in the certificate's names (the chart's default api_addr is the pod IP). `$(VAULT_K8S_POD_NAME)`
            # because Kubernetes expands only variables defined earlier in the env list, and HOSTNAME comes later.
            "apiAddr": f"https://$(VAULT_K8S_POD_NAME).{VAULT_FULLNAME}-internal:{API_PORT}",
            "clusterAddr": f"https://$(HOSTNAME).{VAULT_FULLNAME}-internal:{CLUSTER_PORT}",
            "raft": {"enabled": True, "setNodeId": True, "config": config},
            # HA: at most 1 of 3 voters down (quorum 2 kept). One node: a budget would block every drain.
            "disruptionBudget": {"enabled": True, "maxUnavailable": 1} if args.ha else {"enabled": False},
        },
        # The chart's default pod context (runAsNonRoot, uid 100, gid 1000, fsGroup 1000) is replaced as a whole when
        # set (_helpers.tpl "server.statefulSet.securityContext.pod"), so it is restated with seccomp added; the
        # container drops every capability (disable_mlock: no IPC_LOCK) and gets a read-only root filesystem.
        "statefulSet": {"securityContext": {
            "pod": {"runAsNonRoot": True, "runAsUser": 100, "runAsGroup": 1000, "fsGroup": 1000,
                    "seccompProfile": {"type": "RuntimeDefault"}},
            "container": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                          "readOnlyRootFilesystem": True},
        }},
        # The chart's policy would admit 8200 and 8201 from every namespace; components.mesh.namespace_specs owns
        # Vault's NetworkPolicies (8200 from clients, 8201 between Vault pods only), so it stays off explicitly.
        "networkPolicy": {"enabled": False},
    }
    # `server.affinity` is left at the chart's default: required anti-affinity on kubernetes.io/hostname (one Vault
    # pod per node). Zones are spread hard in HA so an AZ loss leaves a quorum.
    if args.ha:
        server["topologySpreadConstraints"] = zone_spread(_POD_LABELS, hard=True)
    if args.rds_ca_bundle:
        # Rendered verbatim by templates/server-statefulset.yaml (`toYaml .Values.server.extraInitContainers`).
        # Fetched at every pod start rather than committed: the bundle AWS publishes follows its CA rotations, and a
        # copy in git could not be verified here. Egress: allow_aws_apis (443 outside the private ranges) covers it.
        server["extraInitContainers"] = [rds_ca_init_container(args.region)]
        server["volumes"] = [*server["volumes"], {"name": RDS_CA_VOLUME, "emptyDir": {"sizeLimit": "4Mi"}}]
        server["volumeMounts"] = [*server["volumeMounts"],
                                  {"name": RDS_CA_VOLUME, "mountPath": RDS_CA_DIR, "readOnly": True}]
    return {
        "fullnameOverride": VAULT_FULLNAME,
        # https on the listener, the probes (scheme HTTPS) and VAULT_ADDR.
        "global": {"tlsDisable": False},
        # Off unless an app service has a Vault role: then Vault Agent delivers its credentials (README "Application
        # secrets from Vault", delivery comparison), and the injector is scoped to the app namespace.
        "injector": injector_values(args) if args.injector_namespace else {"enabled": False},
        "server": server,
    }


# The injector's pod labels (templates/injector-deployment.yaml: `<vault.name>-agent-injector`, component webhook;
# vault.name is the chart name since no nameOverride is set) and the port its webhook listens on (values injector.port).
INJECTOR_POD_LABELS: Final = {"app.kubernetes.io/name": "vault-agent-injector", "component": "webhook"}
INJECTOR_PORT: Final = 8080
INJECTOR_SERVICE: Final = f"{VAULT_FULLNAME}-agent-injector-svc"  # templates/injector-service.yaml


def injector_values(args: VaultValuesArgs) -> Values:
    """`injector.*`: the Vault Agent injector (vault-k8s), every key read in vault-helm v0.34.1 values.yaml and the
    injector-*.yaml templates.

    failurePolicy Fail, not the chart's Ignore: with Ignore a pod created while the injector is down starts without
    its agent, so without credentials, and fails later and less clearly; with Fail the ReplicaSet controller retries
    the create until the injector answers. The blast radius is the app namespace only (namespaceSelector), never a
    system namespace, so the platform itself can always be repaired; in HA two replicas and a PDB keep it answering.
    """
    return {
        "enabled": True,
        "image": {"tag": VAULT_K8S_VERSION},
        # HA: three replicas like every HA control-plane workload, one drained at a time. One replica: a budget would
        # block every drain; it may be evicted (new app pods with a role wait a restart, running pods are unaffected).
        "replicas": 3 if args.ha else 1,
        "podDisruptionBudget": {"maxUnavailable": 1} if args.ha else {},
        "webhook": {
            "failurePolicy": "Fail",
            # Only the app namespace: kubernetes.io/metadata.name is set by the API server on every namespace.
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": args.injector_namespace}},
            # Only pods labelled for an agent: the API server never calls the webhook for the others, so Fail cannot
            # block them (objectSelector matches labels; the chart's default only excludes the injector's own pods).
            "objectSelector": {"matchLabels": {VAULT_AGENT_LABEL: "true"}},
            # cainjector copies the CA of this Certificate into caBundle (left empty, injector.certs.caBundle).
            "annotations": {"cert-manager.io/inject-ca-from": args.injector_certificate},
        },
        # A Secret cert-manager renews, instead of the injector's self-generated certificate (AGENT_INJECT_TLS_AUTO,
        # which needs write access to the webhook configuration): templates/injector-deployment.yaml mounts it.
        "certs": {"secretName": args.injector_tls_secret, "certName": "tls.crt", "keyName": "tls.key"},
        # Restricted Pod Security: the chart's defaults lack seccomp and a read-only root; restated whole (the
        # templates replace the default when set, _helpers.tpl "injector.securityContext.*").
        "securityContext": {
            "pod": {"runAsNonRoot": True, "runAsUser": 100, "runAsGroup": 1000, "fsGroup": 1000,
                    "seccompProfile": {"type": "RuntimeDefault"}},
            "container": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                          "readOnlyRootFilesystem": True},
        },
        "resources": resources("50m", "64Mi", "250m", "128Mi"),
        **({"topologySpreadConstraints": zone_spread(INJECTOR_POD_LABELS, hard=False)} if args.ha else {}),
    }
