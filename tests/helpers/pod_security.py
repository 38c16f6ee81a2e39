"""The Pod Security Standards' baseline and restricted levels as the Pod Security admission controller of Kubernetes
1.36 checks them, over plain pod specs (rendered or registered), so a pod that the namespace's `enforce` label would
reject fails a test instead of a `pulumi up`.

Each check below is one check of k8s.io/pod-security-admission v0.36.2 `policy/` (the controller's own code), at
the versions that apply to 1.36; a message names the check and the offending container or volume.
Ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/ ;
https://github.com/kubernetes/pod-security-admission/tree/v0.36.2/policy
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Obj = dict[str, Any]
LEVELS = ("privileged", "baseline", "restricted")

# check_capabilities_baseline.go capabilities_allowed_1_0
_BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                          "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
# check_sysctls.go sysctlsAllowedV1Dot32
_SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
                 "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports",
                 "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                 "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
# check_seLinuxOptions.go selinuxAllowedTypes1_31
_SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
# check_restrictedVolumes.go restrictedVolumes_1_0: the only volume sources restricted allows
_RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim",
                       "projected", "secret"}
_SECCOMP_OK = {"RuntimeDefault", "Localhost"}
_APPARMOR_OK = {"RuntimeDefault", "Localhost"}
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def pod_templates(obj: Obj) -> Iterator[tuple[Obj, Obj]]:
    """(pod metadata, pod spec) of every pod an object creates: a Pod, a workload's template, a CronJob's job's."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Pod":
        yield obj.get("metadata") or {}, spec
    elif kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"):
        template = spec.get("template") or {}
        yield template.get("metadata") or {}, template.get("spec") or {}
    elif kind == "CronJob":
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        yield template.get("metadata") or {}, template.get("spec") or {}


def _containers(spec: Obj) -> Iterator[Obj]:
    # visitor.go visitContainers: containers, initContainers and ephemeralContainers alike
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def violations(metadata: Obj, spec: Obj, level: str) -> list[str]:
    """Every check of `level` (and the levels below it) the pod fails, one message each; [] when admitted."""
    assert level in LEVELS, level
    if level == "privileged":
        return []
    found = _baseline(metadata, spec, restricted=level == "restricted")
    if level == "restricted":
        found += _restricted(spec)
    return found


def _sc(container: Obj) -> Obj:
    return container.get("securityContext") or {}


def _baseline(metadata: Obj, spec: Obj, *, restricted: bool) -> list[str]:
    found = []
    pod_sc = spec.get("securityContext") or {}
    containers = list(_containers(spec))
    user_namespace = spec.get("hostUsers") is False  # helpers.go relaxPolicyForUserNamespacePod
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            found.append(f"hostNamespaces: {key}=true")
    for c in containers:
        name, sc = c.get("name"), _sc(c)
        if sc.get("privileged"):
            found.append(f"privileged: container {name}")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            found.append(f"windowsHostProcess: container {name}")
        if not restricted:  # capabilities_restricted overrides capabilities_baseline
            added = set((sc.get("capabilities") or {}).get("add") or []) - _BASELINE_CAPABILITIES
            if added:
                found.append(f"capabilities_baseline: container {name} adds {sorted(added)}")
        ports = [p.get("hostPort") for p in c.get("ports") or [] if p.get("hostPort")]
        if ports:
            found.append(f"hostPorts: container {name} uses host ports {ports}")
        proc_mount = sc.get("procMount")
        if proc_mount not in (None, "Default") and (restricted or not user_namespace):
            found.append(f"procMount: container {name} sets {proc_mount}")
        if (sc.get("seccompProfile") or {}).get("type") == "Unconfined" and not restricted:
            found.append(f"seccompProfile: container {name} is Unconfined")
        if (sc.get("appArmorProfile") or {}).get("type", "RuntimeDefault") not in _APPARMOR_OK:
            found.append(f"appArmorProfile: container {name}")
        found += _selinux(sc.get("seLinuxOptions"), f"container {name}")
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            found += _host_handler(c.get(probe), f"container {name} {probe}")
        for hook in ("postStart", "preStop"):
            found += _host_handler((c.get("lifecycle") or {}).get(hook), f"container {name} {hook}")
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        found.append("windowsHostProcess: pod")
    if (pod_sc.get("seccompProfile") or {}).get("type") == "Unconfined" and not restricted:
        found.append("seccompProfile: pod is Unconfined")
    if (pod_sc.get("appArmorProfile") or {}).get("type", "RuntimeDefault") not in _APPARMOR_OK:
        found.append("appArmorProfile: pod")
    for key, value in (metadata.get("annotations") or {}).items():
        if key.startswith(_APPARMOR_ANNOTATION) and value and value != "runtime/default" \
                and not value.startswith("localhost/"):
            found.append(f"appArmorProfile: annotation {key}={value}")
    found += _selinux(pod_sc.get("seLinuxOptions"), "pod")
    bad_sysctls = [s.get("name") for s in pod_sc.get("sysctls") or [] if s.get("name") not in _SAFE_SYSCTLS]
    if bad_sysctls:
        found.append(f"sysctls: {bad_sysctls}")
    if not restricted:  # restrictedVolumes overrides hostPathVolumes
        found += [f"hostPathVolumes: volume {v.get('name')}" for v in spec.get("volumes") or [] if "hostPath" in v]
    return found


def _selinux(options: Obj | None, who: str) -> list[str]:
    if not options:
        return []
    if options.get("type", "") not in _SELINUX_TYPES or options.get("user") or options.get("role"):
        return [f"seLinuxOptions: {who} sets {options}"]
    return []


def _host_handler(handler: Obj | None, who: str) -> list[str]:
    # check_hostProbesAndhostLifecycle.go (1.34+): httpGet/tcpSocket must not name a host
    hosts = [(handler or {}).get(kind, {}).get("host") for kind in ("httpGet", "tcpSocket")]
    return [f"hostProbesAndHostLifecycle: {who} uses host {host}" for host in hosts if host]


def _restricted(spec: Obj) -> list[str]:
    found = []
    pod_sc = spec.get("securityContext") or {}
    user_namespace = spec.get("hostUsers") is False
    for volume in spec.get("volumes") or []:
        sources = set(volume) - {"name"}
        if not sources & _RESTRICTED_VOLUMES:
            found.append(f"restrictedVolumes: volume {volume.get('name')} is {sorted(sources)}")
    pod_non_root = pod_sc.get("runAsNonRoot") is True
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    if pod_sc.get("runAsNonRoot") is False and not user_namespace:
        found.append("runAsNonRoot: pod sets runAsNonRoot=false")
    if pod_sc.get("runAsUser") == 0 and not user_namespace:
        found.append("runAsUser: pod sets runAsUser=0")
    if pod_seccomp is not None and pod_seccomp not in _SECCOMP_OK:
        found.append(f"seccompProfile: pod sets {pod_seccomp}")
    for c in _containers(spec):
        name, sc = c.get("name"), _sc(c)
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"allowPrivilegeEscalation: container {name} must set allowPrivilegeEscalation=false")
        if not user_namespace:
            if sc.get("runAsNonRoot") is False or ("runAsNonRoot" not in sc and not pod_non_root):
                found.append(f"runAsNonRoot: container {name} (nor its pod) does not set runAsNonRoot=true")
            if sc.get("runAsUser") == 0:
                found.append(f"runAsUser: container {name} sets runAsUser=0")
        seccomp = (sc.get("seccompProfile") or {}).get("type")
        if seccomp is not None and seccomp not in _SECCOMP_OK:
            found.append(f"seccompProfile: container {name} sets {seccomp}")
        elif seccomp is None and pod_seccomp not in _SECCOMP_OK:
            found.append(f"seccompProfile: container {name} (nor its pod) sets RuntimeDefault or Localhost")
        capabilities = sc.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            found.append(f"capabilities_restricted: container {name} must drop ALL")
        added = set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}
        if added:
            found.append(f"capabilities_restricted: container {name} adds {sorted(added)}")
    return found
