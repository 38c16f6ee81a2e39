"""Pod-template rules for manifests applied into the app namespace: meshed, and the restricted Pod Security profile.

The app namespace is labelled `pod-security.kubernetes.io/enforce: restricted`, so the API server would reject these
pods anyway; checking the templates at config load turns a half-applied `pulumi up` into one clear config error.
Ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/ (Baseline + Restricted controls, v1.36):
host namespaces, privileged, hostPath and hostPort, volume types, allowPrivilegeEscalation false, runAsNonRoot true,
runAsUser not 0, seccomp RuntimeDefault or Localhost, capabilities drop ALL and add at most NET_BIND_SERVICE.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

INJECT_ANNOTATION: Final = "linkerd.io/inject"
# Ref: Pod Security Standards, Restricted "Volume Types".
RESTRICTED_VOLUMES: Final = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                                       "persistentVolumeClaim", "projected", "secret"})
ALLOWED_SECCOMP: Final = frozenset({"RuntimeDefault", "Localhost"})
ALLOWED_ADDED_CAPABILITIES: Final = frozenset({"NET_BIND_SERVICE"})

Spec = dict[str, Any]


def pod_template(kind: str, spec: Any) -> Spec | None:
    """The pod template of a workload kind (None for kinds that run no pods)."""
    if not isinstance(spec, dict):
        return None
    if kind in ("Deployment", "StatefulSet", "Job"):
        template = spec.get("template")
    elif kind == "CronJob":
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    else:
        return None
    return template if isinstance(template, dict) else {}


def pod_problems(template: Spec) -> Iterator[str]:
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    if annotations.get(INJECT_ANNOTATION) == "disabled":
        yield f"pod template sets {INJECT_ANNOTATION}: disabled; every pod of the app namespace is meshed"
    pod = template.get("spec")
    if not isinstance(pod, dict):
        yield "pod template has no spec"
        return
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            yield f"{field}: true breaks the restricted Pod Security profile"
    for volume in pod.get("volumes") or []:
        kinds = sorted(set(volume) - {"name"})
        bad = [k for k in kinds if k not in RESTRICTED_VOLUMES]
        if bad:
            yield f"volume {volume.get('name')!r} of type {', '.join(bad)} is not allowed by the restricted profile"
    pod_sc = pod.get("securityContext") or {}
    containers = [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
    if not containers:
        yield "pod template has no containers"
    for c in containers:
        yield from (f"container {c.get('name')!r}: {rule}" for rule in _container(c, pod_sc))
    if pod_sc.get("runAsNonRoot") is False:
        yield "securityContext.runAsNonRoot: false breaks the restricted Pod Security profile"
    if pod_sc.get("runAsUser") == 0:
        yield "securityContext.runAsUser: 0 (root) breaks the restricted Pod Security profile"


def _container(c: Spec, pod_sc: Spec) -> Iterator[str]:
    sc = c.get("securityContext") or {}
    if sc.get("privileged"):
        yield "privileged: true breaks the restricted Pod Security profile"
    if sc.get("allowPrivilegeEscalation") is not False:
        yield "securityContext.allowPrivilegeEscalation must be false (restricted profile)"
    non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    if non_root is not True:
        yield "runAsNonRoot must be true on the pod or the container (restricted profile)"
    if sc.get("runAsUser") == 0:
        yield "runAsUser: 0 (root) breaks the restricted Pod Security profile"
    seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
    if seccomp not in ALLOWED_SECCOMP:
        yield f"seccompProfile.type must be RuntimeDefault or Localhost on the pod or the container (got {seccomp!r})"
    caps = sc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        yield "capabilities.drop must include ALL (restricted profile)"
    added = sorted(set(caps.get("add") or []) - ALLOWED_ADDED_CAPABILITIES)
    if added:
        yield f"capabilities.add {added} (the restricted profile allows only NET_BIND_SERVICE)"
    for port in c.get("ports") or []:
        if port.get("hostPort"):
            yield f"hostPort {port['hostPort']} breaks the baseline Pod Security profile"
