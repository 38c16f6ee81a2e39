"""Pure builders for the meshed edge: the `public-ingress` reverse proxy, its Linkerd policy, NetworkPolicy and the
ALB Ingress in front of it. No resources are created here; `PublicEntry` registers what these return.

A request's path: client -HTTPS-> ALB (ACM certificate, TLS 1.3 policy) -HTTP, inside the VPC-> a proxy pod's IP
(target type ip) -> that pod's Linkerd proxy (inbound: admitted only from the public subnets, where the ALB's
nodes live) -> NGINX -> `http://<service>.<namespace>.svc.cluster.local:<http port>` -> the pod's Linkerd proxy
(outbound: mTLS as `public-ingress`) -> the public service's proxy, which admits exactly that identity
(`config.names.PUBLIC_INGRESS`). So from the first hop inside the cluster the request travels on mTLS.
Ref: https://linkerd.io/2-edge/tasks/using-ingress/ (an ingress proxying to Service addresses needs no special mode)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from components.app import app_specs
from config.catalog import Catalog, Service
from config.names import MONITORING_NAMESPACE, PUBLIC_INGRESS
from config.versions import INGRESS_PROXY_UID

Spec = dict[str, Any]

NAME: Final = PUBLIC_INGRESS  # the ServiceAccount the public services already admit
PORT: Final = 8080  # the unprivileged image's listen port (its Dockerfile: EXPOSE 8080)
PORT_NAME: Final = "http"
HEALTH_PATH: Final = "/healthz"
CONFIG_KEY: Final = "nginx.conf"
# TLS 1.3 with TLS 1.2 restricted to forward-secret AEAD ciphers (1.3 only would turn away older shop customers),
# plus post-quantum hybrid key exchange: the console's default policy since 2025-09 (the API's is still 2016-08).
# Ref: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html
SSL_POLICY: Final = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
ANNOTATION: Final = "alb.ingress.kubernetes.io/"
LOG_PREFIX: Final = "alb"


@dataclass(frozen=True)
class Route:
    """One public service behind the edge: `/<name>/...` goes to its http port (prefix stripped)."""

    name: str
    port: int

    @property
    def path(self) -> str:
        return f"/{self.name}/"


def routes(catalog: Catalog) -> list[Route]:
    """A route per public service, to its first http port (the catalog requires one for a public service)."""
    return [Route(s.name, _http_port(s)) for s in catalog if s.public]


def _http_port(service: Service) -> int:
    return next(p.port for p in service.ports if p.protocol == "http")


def nginx_conf(routes_: Sequence[Route], namespace: str) -> str:
    """The whole nginx.conf: read-only root filesystem (pid and temp files in /tmp), logs to stdout/stderr."""
    locations = "".join(
        f"        location {r.path} {{\n"
        f"            proxy_pass http://{r.name}.{namespace}.svc.cluster.local:{r.port}/;\n"
        "        }\n" for r in routes_)
    return (
        "worker_processes auto;\n"
        "pid /tmp/nginx.pid;\n"
        "error_log /dev/stderr warn;\n"
        "events {\n    worker_connections 1024;\n}\n"
        "http {\n"
        "    client_body_temp_path /tmp/client_temp;\n"
        "    proxy_temp_path /tmp/proxy_temp;\n"
        "    fastcgi_temp_path /tmp/fastcgi_temp;\n"
        "    uwsgi_temp_path /tmp/uwsgi_temp;\n"
        "    scgi_temp_path /tmp/scgi_temp;\n"
        "    access_log /dev/stdout;\n"
        "    server_tokens off;\n"
        # `/<service>` (no slash) gets nginx's 301 to `/<service>/`: relative, not to http://<pod>:8080.
        "    absolute_redirect off;\n"
        "    client_max_body_size 1m;\n"
        # HTTP/1.1 with keep-alive to the Service address: Linkerd's outbound proxy balances and upgrades to mTLS.
        "    proxy_http_version 1.1;\n"
        "    proxy_set_header Connection \"\";\n"
        # The ALB's idle timeout is 60 s; the proxy gives up first so the ALB sees a clean 504, not a reset.
        "    proxy_read_timeout 55s;\n"
        "    server {\n"
        f"        listen {PORT};\n"
        f"        location = {HEALTH_PATH} {{\n"
        "            access_log off;\n"
        "            return 200 \"ok\\n\";\n"
        "        }\n"
        f"{locations}"
        "        location / {\n            return 404;\n        }\n"
        "    }\n"
        "}\n")


def config_hash(conf: str) -> str:
    return hashlib.sha256(conf.encode()).hexdigest()[:16]


def labels() -> dict[str, str]:
    return {app_specs.NAME_LABEL: NAME, "app.kubernetes.io/part-of": "mtls-platform",
            "app.kubernetes.io/component": "public-entry"}


# Graceful removal behind the ALB: on SIGTERM the pod keeps serving while the ALB deregisters its target (the
# target group's deregistration delay, then in-flight requests). nginx sleeps before it stops; the Linkerd proxy
# waits longer still, so connections through it outlive nginx; the grace period covers both.
# Ref: Kubernetes lifecycle `preStop.sleep` (PodLifecycleSleepAction, on by default since 1.30); Linkerd
# `config.alpha.linkerd.io/proxy-wait-before-exit-seconds` (linkerd2 pkg/k8s/labels.go, "must be smaller than
# terminationGracePeriodSeconds").
PRESTOP_SLEEP_SECONDS: Final = 15
PROXY_WAIT_BEFORE_EXIT_SECONDS: Final = 20
TERMINATION_GRACE_SECONDS: Final = 45


def container(image: str) -> Spec:
    probe = {"httpGet": {"path": HEALTH_PATH, "port": PORT_NAME}, "timeoutSeconds": 2}
    return {
        "name": "nginx",
        "image": image,
        "imagePullPolicy": "Always",  # as the app's containers (app_specs.container, CKV_K8S_15)
        # Skip the image's entrypoint scripts: they try to rewrite files under /etc/nginx (read-only here).
        "command": ["nginx", "-g", "daemon off;"],
        "ports": [{"name": PORT_NAME, "containerPort": PORT, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}},
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 6},
        "readinessProbe": {**probe, "periodSeconds": 5, "failureThreshold": 3},
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SLEEP_SECONDS}}},
        "securityContext": {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/nginx/nginx.conf", "subPath": CONFIG_KEY,
                          "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }


def deployment(image: str, config_map: str, conf_hash: str, ha: bool) -> Spec:
    """Meshed (Linkerd injects the proxy), restricted, spread over zones; the HPA owns the replica count."""
    pod: Spec = {
        "serviceAccountName": NAME,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
        "securityContext": {"runAsNonRoot": True, "runAsUser": INGRESS_PROXY_UID, "runAsGroup": INGRESS_PROXY_UID,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container(image)],
        "volumes": [{"name": "config", "configMap": {"name": config_map}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
        "topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule" if ha else "ScheduleAnyway",
            "labelSelector": {"matchLabels": app_specs.selector(NAME)}}],
    }
    return {
        "selector": {"matchLabels": app_specs.selector(NAME)},
        "strategy": dict(app_specs.ROLLING_UPDATE),
        "template": {"metadata": {"labels": labels(), "annotations": {
            "linkerd.io/inject": "enabled",
            "config.alpha.linkerd.io/proxy-wait-before-exit-seconds": str(PROXY_WAIT_BEFORE_EXIT_SECONDS),
            # A new nginx.conf rolls the pods (the config is a subPath mount, which never updates in place).
            "checksum/config": conf_hash}}, "spec": pod},
    }


def service_spec() -> Spec:
    return {"selector": app_specs.selector(NAME),
            "ports": [{"name": PORT_NAME, "port": PORT, "targetPort": PORT_NAME, "protocol": "TCP",
                       "appProtocol": "http"}]}


def replicas(ha: bool) -> tuple[int, int]:
    """(min, max): two or more in HA environments, so one pod (or zone) can go without an outage."""
    return (2, 6) if ha else (1, 2)


def hpa(deployment_name: str, ha: bool) -> Spec:
    low, high = replicas(ha)
    return {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment_name},
            "minReplicas": low, "maxReplicas": high,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": 70}}}]}


def pdb() -> Spec:
    return {"maxUnavailable": 1, "selector": {"matchLabels": app_specs.selector(NAME)}}


# --- Linkerd policy: the ALB is not meshed, so it is admitted by network, on the proxy's port only -----------------

def server() -> Spec:
    return {"podSelector": {"matchLabels": app_specs.selector(NAME)}, "port": PORT_NAME,
            "proxyProtocol": "HTTP/1", "accessPolicy": "deny"}


def alb_network_authentication(public_subnet_cidrs: Sequence[str]) -> Spec:
    """The ALB's nodes take addresses in the public subnets it is placed in: those networks, nothing else."""
    return {"networks": [{"cidr": c} for c in public_subnet_cidrs]}


def network_policy(public_subnet_cidrs: Sequence[str], routes_: Sequence[Route],
                   progressive: frozenset[str] = frozenset()) -> Spec:
    """In: the public subnets (the ALB, unmeshed: it connects to the nginx port only) on the nginx port; Prometheus
    on the Linkerd admin port. Out: the public services' pods on their http ports, and on the Linkerd inbound port the
    edge's proxy may connect to directly (DNS and the Linkerd control plane are allowed namespace-wide)."""
    ports = [{"protocol": "TCP", "port": PORT}]
    egress = [{"to": [{"podSelector": app_specs.workload_selector(r.name, progressive)}],
               "ports": [{"protocol": "TCP", "port": p} for p in (r.port, app_specs.PROXY_INBOUND)]}
              for r in routes_]
    return {"podSelector": {"matchLabels": app_specs.selector(NAME)}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": c}} for c in public_subnet_cidrs], "ports": ports},
                        {"from": [{"namespaceSelector": {"matchLabels": {
                            "kubernetes.io/metadata.name": MONITORING_NAMESPACE}}}],
                         "ports": [{"protocol": "TCP", "port": app_specs.PROXY_ADMIN}]}],
            "egress": egress}


# --- the ALB ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AlbSettings:
    domain: str
    allowed_cidrs: tuple[str, ...]  # the ALB security group's sources
    deletion_protection: bool


def load_balancer_attributes(log_bucket: str, deletion_protection: bool) -> str:
    """ALB attributes. Ref: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/
    application-load-balancers.html#load-balancer-attributes (drop invalid headers: request smuggling, CKV_AWS_131)."""
    return ",".join([
        "access_logs.s3.enabled=true", f"access_logs.s3.bucket={log_bucket}", f"access_logs.s3.prefix={LOG_PREFIX}",
        f"deletion_protection.enabled={str(deletion_protection).lower()}",
        "routing.http.drop_invalid_header_fields.enabled=true",
    ])


def ingress_annotations(alb: AlbSettings, log_bucket: str, certificate_arn: str) -> dict[str, str]:
    """Annotation names and values per docs/guide/ingress/annotations.md at aws-load-balancer-controller v3.5.0."""
    a = ANNOTATION
    return {
        f"{a}scheme": "internet-facing",
        f"{a}target-type": "ip",  # straight to the proxy pods: no NodePort, no extra hop through kube-proxy
        f"{a}listen-ports": json.dumps([{"HTTP": 80}, {"HTTPS": 443}]),
        f"{a}ssl-redirect": "443",  # port 80 only answers with a redirect to HTTPS
        f"{a}certificate-arn": certificate_arn,
        f"{a}ssl-policy": SSL_POLICY,
        f"{a}inbound-cidrs": ",".join(alb.allowed_cidrs),
        f"{a}backend-protocol": "HTTP",
        f"{a}healthcheck-path": HEALTH_PATH,
        f"{a}load-balancer-attributes": load_balancer_attributes(log_bucket, alb.deletion_protection),
    }


def ingress_spec(domain: str, routes_: Sequence[Route]) -> Spec:
    """One ALB rule per public service (Prefix `/<service>`), all to the edge proxy; only the shop's host name is
    routed, so another Host or path gets the ALB's default 404 without reaching a pod."""
    backend = {"service": {"name": NAME, "port": {"name": PORT_NAME}}}
    return {"ingressClassName": "alb", "rules": [{"host": domain, "http": {"paths": [
        {"path": r.path.rstrip("/"), "pathType": "Prefix", "backend": backend} for r in routes_]}}]}
