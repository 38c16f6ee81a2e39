"""Properties the platform depends on, read off the objects the real Helm engine renders (plus what the plan registers).

- Placement: in staging/prod the quorum and webhook workloads of Vault, the Linkerd control plane, cert-manager and
  the AWS Load Balancer Controller spread over nodes and zones exactly as their values builders intend, and every
  spread or anti-affinity term selects that workload's own pods (a selector that matches nothing spreads nothing).
- Webhook certificates: every admission webhook and aggregated API the stacks render gets its serving certificate and
  CA bundle from a known source. Linkerd's from the plan's own cert-manager chain (self-signed root -> CA Issuer ->
  one Certificate per webhook, CA bundle injected by cainjector), cert-manager's from its webhook's dynamic CA.
- Pod Security: every pod lands in a namespace the plan labels with an `enforce` level and meets that level
  (tests/helpers/pod_security.py, the admission controller's checks), including the proxy Linkerd injects.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from typing import Any

import pytest

from components.mesh import cert_specs
from components.mesh.linkerd_values import WEBHOOKS
from components.monitoring.monitoring_values import VIZ_WEBHOOKS
from config.names import LINKERD_NAMESPACE, LINKERD_VIZ_NAMESPACE
from tests.conftest import HA, STACKS, plan_of
from tests.helpers.helm_render import RELEASE, named, rendered
from tests.helpers.k8s_schemas import flatten
from tests.helpers.pod_security import pod_templates, violations

Obj = dict[str, Any]
ENFORCE = "pod-security.kubernetes.io/enforce"
CA_FROM = "cert-manager.io/inject-ca-from"
CA_FROM_SECRET = "cert-manager.io/inject-ca-from-secret"
HOSTNAME, ZONE = "kubernetes.io/hostname", "topology.kubernetes.io/zone"


@functools.cache
def release_namespaces(stack: str) -> dict[str, str]:
    return {r.inputs["name"]: r.inputs["namespace"] for r in plan_of(stack).of_type(RELEASE)}


def registered(stack: str, kind: str) -> list[Obj]:
    return [r.inputs for r in plan_of(stack).resources
            if r.type.startswith("kubernetes:") and r.custom and r.inputs.get("kind") == kind]


@functools.cache
def objects(stack: str) -> tuple[tuple[str, str, Obj], ...]:
    """(source, namespace, object) of everything the stack sends to its cluster: rendered by a release or registered."""
    found = []
    for release, rendered_objects in rendered(stack).items():
        for obj in flatten(rendered_objects):
            namespace = (obj.get("metadata") or {}).get("namespace") or release_namespaces(stack)[release]
            found.append((f"release {release}", namespace, obj))
    for resource in plan_of(stack).resources:
        if resource.type.startswith("kubernetes:") and resource.type != RELEASE and resource.custom:
            found.append((f"resource {resource.name}", resource.inputs["metadata"].get("namespace", ""),
                          resource.inputs))
    return tuple(found)


def _labels_match(selector: Obj, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) against a pod's labels."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if not {"In": key in labels and labels[key] in values, "NotIn": labels.get(key) not in values,
                "Exists": key in labels, "DoesNotExist": key not in labels}[operator]:
            return False
    return True


# --- placement ---------------------------------------------------------------------------------------------------

# What each values builder intends, per (release, kind, name), as (term, topologyKey) pairs: "required"/"preferred"
# pod anti-affinity, or "spread:<whenUnsatisfiable>" topology spread. `always` holds in every stack; `ha` in HA only.
# vault_values.py: the chart's required anti-affinity per node kept, zones spread hard in HA. linkerd_values.py:
# enablePodAntiAffinity in HA (partials _affinity.tpl: required per node, preferred per zone). cert_manager_values.py:
# prefer_other_nodes + zone_spread in HA. alb_controller_values.py: the chart's preferred per-node default, zone spread
# in HA.
PLACEMENT: dict[tuple[str, str, str], dict[str, set[tuple[str, str]]]] = {
    ("vault", "StatefulSet", "vault"): {"always": {("required", HOSTNAME)}, "ha": {("spread:DoNotSchedule", ZONE)}},
    **{("linkerd-control-plane", "Deployment", f"linkerd-{name}"): {
        "always": set(), "ha": {("required", HOSTNAME), ("preferred", ZONE)}}
       for name in ("destination", "identity", "proxy-injector")},
    **{("cert-manager", "Deployment", name): {
        "always": set(), "ha": {("preferred", HOSTNAME), ("spread:ScheduleAnyway", ZONE)}}
       for name in ("cert-manager", "cert-manager-webhook", "cert-manager-cainjector")},
    ("aws-load-balancer-controller", "Deployment", "aws-load-balancer-controller"): {
        "always": {("preferred", HOSTNAME)}, "ha": {("spread:ScheduleAnyway", ZONE)}},
}


def _placement_terms(spec: Obj) -> Iterator[tuple[str, str, Obj]]:
    anti = (spec.get("affinity") or {}).get("podAntiAffinity") or {}
    for term in anti.get("requiredDuringSchedulingIgnoredDuringExecution") or []:
        yield "required", term["topologyKey"], term["labelSelector"]
    for weighted in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
        term = weighted["podAffinityTerm"]
        yield "preferred", term["topologyKey"], term["labelSelector"]
    for constraint in spec.get("topologySpreadConstraints") or []:
        yield f"spread:{constraint['whenUnsatisfiable']}", constraint["topologyKey"], constraint["labelSelector"]


# The sandbox profile has no public entry (ingress.publicEntry: false), so no load balancer controller.
@pytest.mark.parametrize(("release", "kind", "name", "stack"), [
    (*workload, stack) for workload in sorted(PLACEMENT) for stack in STACKS
    if not (stack == "sandbox" and workload[0] == "aws-load-balancer-controller")])
def test_replicas_spread_over_nodes_and_zones_as_the_values_intend(stack: str, release: str, kind: str,
                                                                   name: str) -> None:
    workload = named(rendered(stack)[release], kind, name)
    template = workload["spec"]["template"]
    intent = PLACEMENT[release, kind, name]
    expected = intent["always"] | (intent["ha"] if stack in HA else set())
    terms = list(_placement_terms(template["spec"]))
    assert {(term, key) for term, key, _ in terms} == expected, (stack, name)
    namespace = workload["metadata"].get("namespace") or release_namespaces(stack)[release]
    others = [(f"{o['kind']}/{o['metadata'].get('name')}", meta.get("labels") or {})
              for _, ns, o in objects(stack) if ns == namespace and o is not workload for meta, _ in pod_templates(o)]
    for term, key, selector in terms:
        # The term counts this workload's own replicas and nothing else in the namespace.
        assert _labels_match(selector, template["metadata"]["labels"]), (stack, name, term, key, selector)
        assert not [other for other, labels in others if _labels_match(selector, labels)], (stack, name, term)


# --- webhook certificates ------------------------------------------------------------------------------------------

WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
# Webhooks and aggregated APIs whose CA bundle no cainjector annotation provides, each with how it gets one instead.
CA_BUNDLE_REVIEWED = {
    ("release kube-prometheus-stack", "MutatingWebhookConfiguration", "kube-prometheus-stack-admission"):
        "patched by the chart's admission-create/-patch hook Jobs (kube-webhook-certgen), re-run on every upgrade",
    ("release kube-prometheus-stack", "ValidatingWebhookConfiguration", "kube-prometheus-stack-admission"):
        "patched by the chart's admission-create/-patch hook Jobs (kube-webhook-certgen), re-run on every upgrade",
}


def _services(config: Obj) -> list[Obj]:
    if config["kind"] == "APIService":
        return [config["spec"]["service"]]
    return [w["clientConfig"]["service"] for w in config["webhooks"]]


def _ca_bundles(config: Obj) -> list[str]:
    if config["kind"] == "APIService":
        return [config["spec"]["caBundle"]] if config["spec"].get("caBundle") else []
    return [w["clientConfig"]["caBundle"] for w in config["webhooks"] if w["clientConfig"].get("caBundle")]


def _pods_behind(stack: str, namespace: str, service_name: str) -> list[Obj]:
    """The pod specs the named Service sends traffic to (its selector against every pod template in the namespace)."""
    (service,) = [o for _, ns, o in objects(stack) if ns == namespace and o["kind"] == "Service"
                  and o["metadata"]["name"] == service_name]
    return [spec for _, ns, o in objects(stack) if ns == namespace for meta, spec in pod_templates(o)
            if _labels_match({"matchLabels": service["spec"]["selector"]}, meta.get("labels") or {})]


def _certificate(stack: str, namespace: str, name: str) -> Obj:
    (certificate,) = [o for _, ns, o in objects(stack)
                      if o["kind"] == "Certificate" and ns == namespace and o["metadata"]["name"] == name]
    return certificate


def _signed_by(stack: str, namespace: str, ca_secret: str) -> Obj:
    issuers = {o["metadata"]["name"] for _, ns, o in objects(stack) if ns == namespace and o["kind"] == "Issuer"
               and (o["spec"].get("ca") or {}).get("secretName") == ca_secret}
    (certificate,) = [o for _, ns, o in objects(stack) if ns == namespace and o["kind"] == "Certificate"
                      and o["spec"]["issuerRef"]["name"] in issuers and not o["spec"].get("isCA")]
    return certificate


@pytest.mark.parametrize("stack", STACKS)
def test_every_webhook_and_aggregated_api_gets_its_ca_bundle_from_a_known_source(stack: str) -> None:
    unaccounted = set()
    injected = 0
    for source, _, config in objects(stack):
        if config["kind"] not in (*WEBHOOK_KINDS, "APIService"):
            continue
        annotations = config["metadata"].get("annotations") or {}
        key = (source, config["kind"], config["metadata"]["name"])
        if CA_FROM in annotations:
            # cainjector copies ca.crt of the named Certificate's Secret into every caBundle of this object.
            cert_namespace, cert_name = annotations[CA_FROM].split("/")
            certificate = _certificate(stack, cert_namespace, cert_name)
            if certificate["spec"].get("isCA"):
                # The bundle is a CA (prometheus-adapter's chart injects its root): the serving certificate is the
                # one a CA Issuer over that root's Secret signs.
                certificate = _signed_by(stack, cert_namespace, certificate["spec"]["secretName"])
            for service in _services(config):
                # The API server calls <service>.<namespace>.svc: the certificate must name it, and the pods behind
                # that Service must serve exactly this certificate's Secret.
                assert f"{service['name']}.{service['namespace']}.svc" in certificate["spec"]["dnsNames"], key
                pods = _pods_behind(stack, service["namespace"], service["name"])
                assert pods, (key, service)
                for pod in pods:
                    secrets = {(v.get("secret") or {}).get("secretName") for v in pod.get("volumes") or []}
                    assert certificate["spec"]["secretName"] in secrets, (key, service["name"])
            assert _ca_bundles(config) == [], key  # cainjector owns the field; a rendered one would be overwritten
            injected += 1
        elif CA_FROM_SECRET in annotations:
            assert _ca_bundles(config) == [], key
            injected += 1
        else:
            unaccounted.add(key)
    assert injected >= 5
    expected_reviewed = {k for k in CA_BUNDLE_REVIEWED if k[0].removeprefix("release ") in rendered(stack)}
    assert unaccounted == expected_reviewed


@pytest.mark.parametrize("stack", STACKS)
def test_linkerd_webhooks_serve_certificates_of_the_platforms_own_cert_manager_chain(stack: str) -> None:
    control_plane = rendered(stack)["linkerd-control-plane"]
    issuers = {o["metadata"]["name"]: o for o in registered(stack, "Issuer")
               if o["metadata"]["namespace"] == LINKERD_NAMESPACE}
    configs = [o for o in control_plane if o["kind"] in WEBHOOK_KINDS]
    assert len(configs) == len(WEBHOOKS) == 3
    for certificate_name, secret, service in WEBHOOKS.values():
        (config,) = [c for c in configs if {s["name"] for s in _services(c)} == {service}]
        assert config["metadata"]["annotations"] == {CA_FROM: f"{LINKERD_NAMESPACE}/{certificate_name}"}
        certificate = _certificate(stack, LINKERD_NAMESPACE, certificate_name)["spec"]
        assert certificate["secretName"] == secret and "server auth" in certificate["usages"]
        # The chain: the webhook Issuer signs with the CA Certificate's key, which the self-signed Issuer issued.
        issuer = issuers[certificate["issuerRef"]["name"]]
        ca = _certificate(stack, LINKERD_NAMESPACE, cert_specs.WEBHOOK_ISSUER)["spec"]
        assert issuer["spec"] == {"ca": {"secretName": ca["secretName"]}} and ca["isCA"] is True
        assert issuers[ca["issuerRef"]["name"]]["spec"] == {"selfSigned": {}}
    # externalSecret: the chart renders neither the serving Secrets nor a certificate of its own.
    assert not [o for o in control_plane if o["kind"] == "Secret"]
    # Without cainjector no caBundle would ever be set and every pod creation would fail closed in HA.
    assert named(rendered(stack)["cert-manager"], "Deployment", "cert-manager-cainjector")


@pytest.mark.parametrize("stack", [s for s in STACKS if s != "sandbox"])  # sandbox runs no monitoring layer
def test_linkerd_viz_tap_serves_certificates_of_its_own_cert_manager_chain_not_the_charts(stack: str) -> None:
    viz = rendered(stack)["linkerd-viz"]
    issuers = {o["metadata"]["name"]: o for o in registered(stack, "Issuer")
               if o["metadata"]["namespace"] == LINKERD_VIZ_NAMESPACE}
    api = named(viz, "APIService", "v1alpha1.tap.linkerd.io")
    webhook = named(viz, "MutatingWebhookConfiguration", "linkerd-tap-injector-webhook-config")
    for config, component in ((api, "tap"), (webhook, "tapInjector")):
        certificate_name, secret, service = VIZ_WEBHOOKS[component]
        assert config["metadata"]["annotations"][CA_FROM] == f"{LINKERD_VIZ_NAMESPACE}/{certificate_name}"
        assert {s["name"] for s in _services(config)} == {service} and _ca_bundles(config) == []
        certificate = _certificate(stack, LINKERD_VIZ_NAMESPACE, certificate_name)["spec"]
        assert certificate["secretName"] == secret and certificate["duration"] == cert_specs.hours(8760)
        ca = _certificate(stack, LINKERD_VIZ_NAMESPACE, cert_specs.WEBHOOK_ISSUER)["spec"]
        assert issuers[certificate["issuerRef"]["name"]]["spec"] == {"ca": {"secretName": ca["secretName"]}}
        assert issuers[ca["issuerRef"]["name"]]["spec"] == {"selfSigned": {}}
    # externalSecret: the chart no longer renders the one-year self-signed Secrets it would generate.
    assert not [o for o in viz if o["kind"] == "Secret" and o["metadata"]["name"].endswith("-k8s-tls")]


@pytest.mark.parametrize("stack", STACKS)
def test_cert_managers_webhook_serves_from_its_own_dynamic_ca(stack: str) -> None:
    release = rendered(stack)["cert-manager"]
    namespace = release_namespaces(stack)["cert-manager"]
    webhook = named(release, "Deployment", "cert-manager-webhook")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in webhook.get("env") or []}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    args = [a.replace("$(POD_NAMESPACE)", namespace) for a in webhook["args"]]
    assert f"--dynamic-serving-ca-secret-namespace={namespace}" in args
    assert "--dynamic-serving-ca-secret-name=cert-manager-webhook-ca" in args
    configs = [o for o in release if o["kind"] in WEBHOOK_KINDS]
    assert len(configs) == 2
    for config in configs:
        assert config["metadata"]["annotations"] == {CA_FROM_SECRET: f"{namespace}/cert-manager-webhook-ca"}
        for service in _services(config):
            assert f"--dynamic-serving-dns-names={service['name']}.{service['namespace']}.svc" in args
    # The webhook creates and rotates that CA Secret itself; the chart must not render one.
    assert not [o for o in release if o["kind"] == "Secret"]


# --- Pod Security -----------------------------------------------------------------------------------------------------

# Pods exempt from their namespace's level, with the reason. Only Helm test hooks: `helm test` creates them, which
# Pulumi's Release never runs. vault-helm 0.34.1 templates/tests/server-test.yaml gives its test pod no securityContext
# and no value sets one, so `helm test vault` is rejected in the restricted vault namespace (use
# `kubectl -n vault exec vault-0 -- vault status`).
POD_SECURITY_REVIEWED = {("release vault", "Pod", "vault-server-test"): "Helm test hook; Pulumi never runs helm test"}


# kube-system belongs to EKS (kube-proxy, the VPC CNI and EBS CSI node pods need privileges), so the plan labels it
# with no level; the one pod the plan puts there, Cluster Autoscaler's (the IRSA role trusts kube-system), must
# still meet the restricted level, checked as if kube-system enforced it.
UNLABELLED_CHECKED_AS: dict[str, str] = {"kube-system": "restricted"}


@functools.cache
def namespace_levels(stack: str) -> dict[str, str]:
    return {**UNLABELLED_CHECKED_AS, **{n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get(ENFORCE, "")
                                        for n in registered(stack, "Namespace")}}


@pytest.mark.parametrize("stack", STACKS)
def test_every_pod_meets_the_pod_security_level_its_namespace_enforces(stack: str) -> None:
    problems, checked, exempt = [], {"baseline": 0, "restricted": 0, "privileged": 0}, set()
    for source, namespace, obj in objects(stack):
        for metadata, spec in pod_templates(obj):
            key = (source, obj["kind"], obj["metadata"].get("name"))
            if (obj["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test":
                exempt.add(key)
                continue
            level = namespace_levels(stack).get(namespace)
            if not level:  # no enforce label: the cluster's default (privileged) would admit anything
                problems.append(f"{key}: namespace {namespace!r} has no {ENFORCE} label")
                continue
            checked[level] += 1
            problems += [f"stack {stack}, {source}, {obj['kind']}/{obj['metadata'].get('name')} in {namespace} "
                         f"({level}): {v}" for v in violations(metadata, spec, level)]
    assert not problems, "\n".join(problems)
    assert exempt == set(POD_SECURITY_REVIEWED)
    assert checked["restricted"] >= 15, checked  # Vault, cert-manager, Linkerd, the ALB controller, the app


@pytest.mark.parametrize("stack", STACKS)
def test_the_proxy_linkerd_injects_keeps_app_pods_restricted(stack: str) -> None:
    # The proxy injector patches pods with the chart's own partials (linkerd2 charts/patch/templates/patch.json:
    # "partials.proxy" with the values of the linkerd-config ConfigMap), the same partials that render the proxy of
    # the control plane's pods: that rendered proxy (and the CNI mode's network-validator init container) is what
    # every app pod gets. The injector itself does not run here.
    identity = named(rendered(stack)["linkerd-control-plane"], "Deployment", "linkerd-identity")["spec"]["template"]
    proxy = next(c for c in identity["spec"]["containers"] if c["name"] == "linkerd-proxy")
    validators = [c for c in identity["spec"].get("initContainers") or [] if c["name"] == "linkerd-network-validator"]
    app_namespace = next(ns for ns, level in namespace_levels(stack).items() if ns.endswith("-app"))
    assert namespace_levels(stack)[app_namespace] == "restricted"
    deployments = [d for d in registered(stack, "Deployment") if d["metadata"]["namespace"] == app_namespace]
    assert len(deployments) >= 8
    for deployment in deployments:
        template = copy.deepcopy(deployment["spec"]["template"])
        assert template["metadata"]["annotations"]["linkerd.io/inject"] == "enabled"
        spec = template["spec"]
        spec["containers"].append(proxy)
        spec["initContainers"] = [*(spec.get("initContainers") or []), *validators]
        spec["volumes"] = [*(spec.get("volumes") or []), {"name": "linkerd-identity-end-entity",
                                                         "emptyDir": {"medium": "Memory"}}]
        assert violations(template["metadata"], spec, "restricted") == [], deployment["metadata"]["name"]


# --- the checks can fail ------------------------------------------------------------------------------------------

def test_pod_security_checks_reject_what_each_level_forbids() -> None:
    pod = copy.deepcopy(next(d for d in registered("prod", "Deployment")
                             if d["metadata"]["namespace"] == "prod-app")["spec"]["template"])
    assert violations(pod["metadata"], pod["spec"], "restricted") == []
    container = pod["spec"]["containers"][0]
    relaxed = copy.deepcopy(pod)
    sc = relaxed["spec"]["containers"][0]["securityContext"]
    del sc["allowPrivilegeEscalation"], sc["capabilities"], sc["seccompProfile"]
    del relaxed["spec"]["securityContext"]["seccompProfile"], relaxed["spec"]["securityContext"]["runAsNonRoot"]
    del sc["runAsNonRoot"]
    relaxed["spec"]["volumes"] = [{"name": "shared", "nfs": {"server": "nfs.example", "path": "/"}}]
    name = container["name"]
    assert violations(relaxed["metadata"], relaxed["spec"], "baseline") == []  # none of that is a baseline rule
    assert violations(relaxed["metadata"], relaxed["spec"], "restricted") == [
        "restrictedVolumes: volume shared is ['nfs']",
        f"allowPrivilegeEscalation: container {name} must set allowPrivilegeEscalation=false",
        f"runAsNonRoot: container {name} (nor its pod) does not set runAsNonRoot=true",
        f"seccompProfile: container {name} (nor its pod) sets RuntimeDefault or Localhost",
        f"capabilities_restricted: container {name} must drop ALL",
    ]
    host = copy.deepcopy(pod)
    host["spec"] |= {"hostNetwork": True, "volumes": [{"name": "root", "hostPath": {"path": "/"}}]}
    host["spec"]["containers"][0]["securityContext"] |= {"privileged": True, "capabilities": {
        "drop": ["ALL"], "add": ["SYS_ADMIN"]}}
    host["spec"]["containers"][0]["ports"][0]["hostPort"] = 9090
    assert violations(host["metadata"], host["spec"], "baseline") == [
        "hostNamespaces: hostNetwork=true", f"privileged: container {name}",
        f"capabilities_baseline: container {name} adds ['SYS_ADMIN']",
        f"hostPorts: container {name} uses host ports [9090]", "hostPathVolumes: volume root"]
    assert violations(host["metadata"], host["spec"], "privileged") == []
