"""Pure builders for the platform's log-based alarms: CloudWatch Logs filter patterns and the alarm around each.

Two log sources feed them. The EKS control-plane log group carries the Kubernetes audit log (one JSON event per API
request); the Container Insights `application` log group carries every container's stdout/stderr as Fluent Bit
records (`log` = the raw line, `log_processed` = the line parsed when it is JSON, `kubernetes.*` = pod metadata), and
with it Vault's audit log (file device on stdout) and cert-manager's controller log. No resources are created here,
so every pattern is tested against committed sample log lines without the engine
(tests/components/observability/test_cloudwatch.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

LogSource = Literal["control-plane", "application"]

# JSON filter patterns: `{ <selector> <op> <value> }` joined with && / ||; string values may carry `*` wildcards.
# Ref: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
# Ref: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/matching-terms-json-log-events.html


def eq(selector: str, value: str | int) -> str:
    """`selector = value`; a string value is quoted (it may hold `*` wildcards), a number is not."""
    return f"{selector} = {value}" if isinstance(value, int) else f'{selector} = "{value}"'


def all_of(*conditions: str) -> str:
    return " && ".join(f"({c})" for c in conditions)


def any_of(*conditions: str) -> str:
    return " || ".join(f"({c})" for c in conditions)


def json_pattern(condition: str) -> str:
    return "{ " + condition + " }"


def contains(selector: str, text: str) -> str:
    return eq(selector, f"*{text}*")


@dataclass(frozen=True)
class LogAlarm:
    """One metric filter and the alarm on its metric."""

    key: str  # stable resource-name suffix and metric name stem, e.g. "vault-permission-denied"
    source: LogSource
    pattern: str
    description: str  # what it means; the first response is in docs/cloudwatch.md under the same key
    threshold: int  # matching events per period that trip the alarm
    period_seconds: int = 300
    evaluation_periods: int = 1

    @property
    def metric_name(self) -> str:
        return "".join(part.capitalize() for part in self.key.split("-"))


# Kubernetes audit events (audit.k8s.io/v1 Event): responseStatus.code, objectRef.{namespace,resource,subresource}.
# Ref: https://kubernetes.io/docs/reference/config-api/apiserver-audit.v1/#audit-k8s-io-v1-Event
UNAUTHORIZED_CODES: Final = (401, 403)
# Controllers retry on 403 while RBAC propagates; a handful per five minutes is noise, a steady stream is not.
UNAUTHORIZED_THRESHOLD: Final = 10
# cert-manager v1.21.1 controller log lines (klog text format, the chart's default) when Vault will not sign:
# Ref: https://github.com/cert-manager/cert-manager/blob/v1.21.1/pkg/controller/certificaterequests/vault/vault.go
# ("Vault failed to sign certificate", "Failed to initialise vault client for signing") and
# https://github.com/cert-manager/cert-manager/blob/v1.21.1/pkg/issuer/vault/setup.go
# ("Failed to initialize Vault client", "Failed to verify Vault is initialized and unsealed").
CERT_MANAGER_FAILURES: Final = (
    "Vault failed to sign certificate",
    "Failed to initialise vault client for signing",
    "Failed to initialize Vault client",
    "Failed to verify Vault is initialized and unsealed",
)


def control_plane_alarms(vault_namespace: str) -> tuple[LogAlarm, ...]:
    """Alarms on the control-plane log group (the `audit` stream is JSON; the other streams never match)."""
    return (
        LogAlarm(
            "k8s-api-unauthorized", "control-plane",
            json_pattern(any_of(*(eq("$.responseStatus.code", c) for c in UNAUTHORIZED_CODES))),
            "Kubernetes API requests rejected as unauthenticated (401) or forbidden (403)",
            UNAUTHORIZED_THRESHOLD),
        # Nobody needs a shell in Vault: the deployer reaches it through pods/portforward (vault_bootstrap_provider),
        # so any exec into a Vault pod is a person (or an attacker) bypassing Vault's own audit log.
        LogAlarm(
            "vault-pod-exec", "control-plane",
            json_pattern(all_of(eq("$.objectRef.namespace", vault_namespace), eq("$.objectRef.resource", "pods"),
                                eq("$.objectRef.subresource", "exec"))),
            f"Someone opened an exec session into a pod in namespace {vault_namespace}",
            1),
    )


def application_alarms(vault_namespace: str, cert_manager_namespace: str) -> tuple[LogAlarm, ...]:
    """Alarms on the Container Insights application log group (needs container logs)."""
    vault = eq("$.kubernetes.namespace_name", vault_namespace)
    return (
        # Vault audit entries: type request|response, error, auth.policies.
        # Ref: https://developer.hashicorp.com/vault/docs/audit (format of audit entries); the error text of a denied
        # request is "permission denied" (Vault's logical.ErrPermissionDenied), sometimes wrapped in a multierror.
        LogAlarm(
            "vault-permission-denied", "application",
            json_pattern(all_of(vault, eq("$.log_processed.type", "response"),
                                contains("$.log_processed.error", "permission denied"))),
            "Vault answered requests with 'permission denied' (a client with the wrong policy, or probing)",
            5),
        LogAlarm(
            "vault-root-token-used", "application",
            json_pattern(all_of(vault, eq("$.log_processed.type", "request"),
                                eq("$.log_processed.auth.policies[0]", "root"))),
            "A request to Vault was made with a root token (expected only during the first bootstrap)",
            1),
        # Vault core logs "vault is sealed" (hclog, logger "core") whenever it seals, including a clean shutdown.
        # Ref: https://github.com/hashicorp/vault/blob/main/vault/core.go (sealInternalWithOptions)
        LogAlarm(
            "vault-sealed", "application",
            json_pattern(all_of(vault, contains("$.log", "core: vault is sealed"))),
            "A Vault server sealed itself (pod shutdown, or lost access to its KMS unseal key)",
            1),
        LogAlarm(
            "cert-manager-issuance-failed", "application",
            json_pattern(all_of(
                eq("$.kubernetes.namespace_name", cert_manager_namespace),
                any_of(*(contains("$.log", text) for text in CERT_MANAGER_FAILURES)))),
            "cert-manager could not get a certificate signed by Vault (Linkerd's issuer renewal is at risk)",
            1),
    )
