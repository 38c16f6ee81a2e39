"""Vault rules: the Helm release's seal, HA, spread, TLS and audit storage; network policy and snapshots.

From HashiCorp's production-hardening guide and vault-helm's HA notes (audit list, section "Vault"). Where the chart's
default is insecure (`global.tlsDisable: true`, `server.networkPolicy.enabled: false`) the rule needs the explicit
value. The server config is read from whichever mode the values select (raft HA, other HA, standalone).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from audit import kinds
from audit.helm import chart, namespace_of, releases, values
from audit.model import (
    Context,
    Resource,
    Stack,
    Verdict,
    all_of,
    as_list,
    failed,
    number,
    passed,
    resource_rule,
    stack_rule,
    truthy,
)
from audit.values import dig
from config.names import HA_ENVIRONMENTS

STATIC_AWS_CREDENTIALS = frozenset({"access_key", "secret_key", "session_token"})
STATIC_AWS_ENV = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"})
# Vault's API and cluster ports, by number or by the chart's port names.
VAULT_PORTS = frozenset({"8200", "8201", "http", "https-internal"})
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
ZONE_KEY = "topology.kubernetes.io/zone"


def vault_config(r: Resource) -> Any:
    """The server configuration the chart renders for the mode in use (raft HA, other HA, or standalone)."""
    if truthy(values(r, "server", "ha", "enabled", default=False)):
        if truthy(values(r, "server", "ha", "raft", "enabled", default=False)):
            return values(r, "server", "ha", "raft", "config")
        return values(r, "server", "ha", "config")
    return values(r, "server", "standalone", "config")


def hcl_blocks(config: Any, block: str) -> list[dict[str, str]]:
    """`<block> "<label>" { key = value … }` stanzas of an HCL (or JSON) Vault config, as {label, key: value}."""
    if isinstance(config, Mapping) or (isinstance(config, str) and config.lstrip().startswith("{")):
        data = json.loads(config) if isinstance(config, str) else config
        found = []
        for item in as_list(data.get(block)):
            for label, body in (item.items() if isinstance(item, Mapping) else []):
                for entry in as_list(body):
                    found.append({"label": label, **{k: str(v) for k, v in dict(entry).items()}})
        return found
    if not isinstance(config, str):
        return []
    stanzas = re.finditer(rf'^\s*{block}\s+"([^"]+)"\s*\{{(.*?)^\s*\}}', config, re.S | re.M)
    return [{"label": m.group(1), **dict(re.findall(r'^\s*(\w+)\s*=\s*"?([^"\n]*)"?', m.group(2), re.M))}
            for m in stanzas]


_VAULT = chart("vault")


@resource_rule("vault-awskms-seal", "Vault auto-unseals with awskms through IRSA, no static AWS keys",
               'Hardening "no clear-text credentials"', kinds.HELM_RELEASES, selector=_VAULT,
               also=("Vault docs: awskms seal", "EKS BPG: IRSA"))
def vault_awskms_seal(r: Resource, ctx: Context) -> Verdict:
    seals = [s for s in hcl_blocks(vault_config(r), "seal") if s["label"] == "awskms"]
    env = {**(values(r, "server", "extraEnvironmentVars", default={}) or {})}
    secret_env = {e.get("envName") for e in as_list(values(r, "server", "extraSecretEnvironmentVars"))
                  if isinstance(e, Mapping)}
    annotations = values(r, "server", "serviceAccount", "annotations", default={}) or {}
    return all_of([
        (bool(seals), 'no seal "awskms" stanza in the server config'),
        (not any(STATIC_AWS_CREDENTIALS & s.keys() for s in seals), "static credentials in the seal stanza"),
        (not (STATIC_AWS_ENV & (set(env) | secret_env)), "static AWS credentials in the server environment"),
        (isinstance(annotations, Mapping) and bool(annotations.get(IRSA_ANNOTATION)),
         f"server service account lacks {IRSA_ANNOTATION} (IRSA)"),
    ], f"awskms seal, key {seals[0].get('kms_key_id', '?') if seals else '?'}, IRSA")


@resource_rule("vault-ha-raft", "Vault runs HA integrated storage with >= 3 replicas and a PDB (staging/prod)",
               "vault-helm / HA", kinds.HELM_RELEASES, selector=_VAULT, mandatory_in=HA_ENVIRONMENTS,
               also=("Vault reference architecture: 3-5 voters",))
def vault_ha_raft(r: Resource, ctx: Context) -> Verdict:
    replicas = number(values(r, "server", "ha", "replicas", default=3))
    return all_of([
        (truthy(values(r, "server", "ha", "enabled", default=False)), "server.ha.enabled off"),
        (truthy(values(r, "server", "ha", "raft", "enabled", default=False)), "server.ha.raft.enabled off"),
        (replicas >= 3, f"{replicas:.0f} replica(s)"),
        (truthy(values(r, "server", "ha", "disruptionBudget", "enabled", default=True)), "disruption budget off"),
    ], f"raft HA, {replicas:.0f} replicas, PDB")


@resource_rule("vault-spread", "Vault pods spread across nodes (anti-affinity) and zones (staging/prod)",
               "vault-helm / HA", kinds.HELM_RELEASES, selector=_VAULT, mandatory_in=HA_ENVIRONMENTS)
def vault_spread(r: Resource, ctx: Context) -> Verdict:
    affinity = values(r, "server", "affinity", default=None)
    spread = values(r, "server", "topologySpreadConstraints", default=[])
    # The chart's default server.affinity is a hostname podAntiAffinity; only an explicit empty value removes it.
    keeps_anti_affinity = affinity is None or "podAntiAffinity" in json.dumps(affinity)
    return all_of([(keeps_anti_affinity, "server.affinity drops the per-node podAntiAffinity"),
                   (ZONE_KEY in json.dumps(spread), f"no topologySpreadConstraints on {ZONE_KEY}")],
                  "anti-affinity per node, zone spread")


def _listener_tls_disabled(config: Any) -> bool:
    return any(str(listener.get("tls_disable", "0")).strip('"').lower() in {"1", "true"}
               for listener in hcl_blocks(config, "listener"))


@resource_rule("vault-tls", "Vault serves TLS end to end (chart and listener)", 'Hardening "end-to-end TLS"',
               kinds.HELM_RELEASES, selector=_VAULT, listed=False,
               also=("Vault production hardening: end-to-end TLS",))
def vault_tls(r: Resource, ctx: Context) -> Verdict:
    return all_of([(values(r, "global", "tlsDisable", default=True) is False,
                    "global.tlsDisable is not explicitly false (the chart defaults to true)"),
                   (not _listener_tls_disabled(vault_config(r)), "the tcp listener sets tls_disable")],
                  "TLS on")


@resource_rule("vault-audit-storage", "Vault has a volume for its audit device", 'Hardening "enable auditing"',
               kinds.HELM_RELEASES, selector=_VAULT, mandatory_in=(), listed=False,
               also=("Vault production hardening: enable auditing",))
def vault_audit_storage(r: Resource, ctx: Context) -> Verdict:
    return passed("server.auditStorage.enabled") if truthy(values(
        r, "server", "auditStorage", "enabled", default=False)) else failed("no audit storage volume")


def _port(value: Any) -> str:
    """8200, 8200.0 (numbers cross protobuf as floats) and "8200" alike."""
    return str(int(value)) if isinstance(value, int | float) else str(value)


def _ingress_ports(spec: Mapping[str, Any]) -> set[str]:
    return {_port(p.get("port")) for rule in as_list(spec.get("ingress")) for p in as_list(rule.get("ports"))
            if isinstance(p, Mapping)}


@stack_rule("vault-network-policy", "Only 8200 (clients) and 8201 (cluster) reach Vault pods", 'Hardening "firewall"',
            kinds.HELM_RELEASES)
def vault_network_policy(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    for release in releases(stack, "vault"):
        if truthy(values(release, "server", "networkPolicy", "enabled", default=False)):
            ports = _ingress_ports({"ingress": values(release, "server", "networkPolicy", "ingress", default=[])})
        else:
            namespace = namespace_of(release)
            # Policies of other pods of the namespace (the agent injector's webhook port) do not reach Vault's.
            policies = [p for p in stack.of_type(kinds.NETWORK_POLICY) if namespace_of(p) == namespace
                        and dig(p.get("spec", default={}) or {}, "podSelector", "matchLabels",
                                "app.kubernetes.io/name", default="vault") == "vault"]
            ports = set().union(*(_ingress_ports(p.get("spec", default={}) or {}) for p in policies))
        if not ports:
            yield release, failed("no NetworkPolicy admitting Vault's ports (chart networkPolicy off)")
        else:
            extra = ports - VAULT_PORTS
            yield release, failed(f"also admits ports {sorted(extra)}") if extra else passed(
                f"ingress ports {', '.join(sorted(ports))}")


@stack_rule("vault-raft-snapshots", "Vault raft snapshots are taken on a schedule", "Backups", kinds.HELM_RELEASES,
            mandatory_in=(), also=("Vault docs: raft snapshot (automated snapshots are Enterprise-only)",))
def vault_raft_snapshots(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    jobs = [j for j in stack.of_type(kinds.CRON_JOB) if "snapshot" in json.dumps(dict(j.inputs), default=str)]
    for release in releases(stack, "vault"):
        yield release, passed(f"CronJob {jobs[0].name}") if jobs else failed("no CronJob taking raft snapshots")
