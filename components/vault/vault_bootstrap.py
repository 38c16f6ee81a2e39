"""`VaultBootstrap`: a Pulumi dynamic resource that runs the Vault bootstrap (components/vault/bootstrap/steps.py).

How the deployer reaches Vault: Vault is never exposed outside the cluster, and a CI runner only has the Kubernetes
API. So `create`/`update` open a port-forward to the Vault pod through the API server (the `pods/portforward`
subresource, as `kubectl port-forward` does), bridge it to a listener on 127.0.0.1:<ephemeral>, and point hvac at
https://127.0.0.1:<port>, verifying Vault's listener certificate against the CA given as input. `diff` compares a hash
of the bootstrap spec, so a `pulumi up` with unchanged inputs does not even contact Vault; when it does run, the
bootstrap itself is idempotent. Outputs: `root_ca_pem` (the trust anchor certificate, public) and `spec_hash`.

The provider is pickled into the state by dill. Its class lives in an importable module, so dill stores a reference
(`components.vault_bootstrap_provider.VaultBootstrapProvider`, ~100 bytes, no bytecode: the class declares the
import shim at that path as its module, the path every existing state holds), which the provider process resolves by
importing that module: `pulumi-resource-pulumi-python` runs `python -m pulumi.dynamic` in the project
directory (it resolves the relative `virtualenv: .venv` against $PWD; pulumi/pulumi sdk/python/dist), so the project
root is on sys.path. Importing this module has no side effects; the libraries only the provider process needs
(kubernetes, boto3, hvac and the bootstrap steps) are imported inside the functions that use them.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import logging
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic
import yaml

from components.vault.bootstrap import app_secrets
from components.vault.bootstrap.spec import BootstrapSpec, spec_from_props, spec_hash, spec_to_props

LOG = logging.getLogger("mtls_platform.vault_bootstrap")

# Property names as registered (type "pulumi-python:dynamic:Resource"): inputs, then the outputs create/update return.
CONNECTION_INPUTS = ("kubeconfig", "namespace", "pod_name", "port", "vault_ca_pem", "recovery_secret_arn", "region",
                     "postgres_master_secret_arn")
# Part of what Vault must hold, besides the spec's own fields: the application secrets' spec (spec_hash covers it).
SPEC_INPUTS = ("app_secrets",)
OUTPUTS = ("root_ca_pem", "spec_hash")


@dataclass(frozen=True)
class VaultBootstrapArgs:
    kubeconfig: pulumi.Input[str]  # kubeconfig (YAML or JSON) of the cluster; registered as a secret
    vault_ca_pem: pulumi.Input[str]  # CA that signed Vault's listener certificate (its SANs include 127.0.0.1)
    recovery_secret_arn: pulumi.Input[str]  # Secrets Manager secret that receives the recovery material
    region: pulumi.Input[str]  # region of that secret
    spec: BootstrapSpec  # what Vault must hold; plain values, validated when built
    namespace: pulumi.Input[str] = "vault"
    # The first raft node: initialised here, the others join it (retry_join). Later runs could use any unsealed pod,
    # as standbys forward requests to the active node.
    pod_name: pulumi.Input[str] = "vault-0"
    port: pulumi.Input[int] = 8200
    # The application's credentials (components/vault/bootstrap/app_secrets.py, as to_json writes it); "" = none.
    app_secrets: pulumi.Input[str] = ""
    # The RDS-managed master user secret: read by the provider only when Vault's PostgreSQL connection is (re)seeded.
    postgres_master_secret_arn: pulumi.Input[str] = ""


class VaultBootstrapProvider(pulumi.dynamic.ResourceProvider):
    """CRUD for VaultBootstrap. Only `create` and `update` talk to Vault."""

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        # `_olds` are the stored outputs; only the spec decides whether Vault must be converged again. Connection
        # details (kubeconfig, CA, pod, secret ARN) may change without any change in Vault.
        try:
            wanted = spec_hash(spec_from_props(_news), str(_news.get("app_secrets") or ""))
        except (TypeError, ValueError):  # a value not known yet (preview): assume a change
            return pulumi.dynamic.DiffResult(changes=True)
        return pulumi.dynamic.DiffResult(changes=_olds.get("spec_hash") != wanted, replaces=[])

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        return pulumi.dynamic.CreateResult(id_=f"{props['namespace']}/{props['pod_name']}", outs=converge(props))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(outs=converge(_news))

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        # `pulumi refresh` / `up --refresh`: the trust anchor is whatever Vault's default issuer is now - after a
        # trust-anchor rotation, the new root - so the `trust_anchor_pem` output and the alert's expiry follow it.
        # The issuer's certificate is public (an unauthenticated endpoint): no token is needed.
        return pulumi.dynamic.ReadResult(id_=id_, outs={**props, "root_ca_pem": read_anchor(props)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # Deliberately nothing: Vault's data (the trust anchor's private key, the recovery-keyed barrier) must not go
        # away because a resource left the program. Vault is torn down with its Helm release and volumes.
        return None


# State stores the provider by module path (see the module docstring): keep the path stacks were deployed with, the
# shim at components/vault_bootstrap_provider.py, so moving this file never changes a stored `__provider`.
VaultBootstrapProvider.__module__ = "components.vault_bootstrap_provider"


class VaultBootstrap(pulumi.dynamic.Resource):
    """Vault initialised and configured for the platform; `root_ca_pem` is the trust anchor for Linkerd."""

    root_ca_pem: pulumi.Output[str]
    spec_hash: pulumi.Output[str]

    def __init__(self, name: str, args: VaultBootstrapArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {
            "kubeconfig": pulumi.Output.secret(args.kubeconfig),
            "namespace": args.namespace,
            "pod_name": args.pod_name,
            "port": args.port,
            "vault_ca_pem": args.vault_ca_pem,
            "recovery_secret_arn": args.recovery_secret_arn,
            "region": args.region,
            "app_secrets": args.app_secrets,
            "postgres_master_secret_arn": args.postgres_master_secret_arn,
            **spec_to_props(args.spec),
            **dict.fromkeys(OUTPUTS),
        }
        super().__init__(VaultBootstrapProvider(), name, props, opts)


def converge(props: Mapping[str, Any], *, open_stream: Callable[[], Any] | None = None) -> dict[str, Any]:
    """Run the bootstrap against the pod named in `props`; returns the resource's outputs.

    `open_stream` replaces the stream to the pod (tests bridge to a local server through the same PortForward); the
    provider never passes it, so a deployment always opens the pod's port-forward through the API server.
    """
    # Imported here, not at the top: only the provider process converges, while every `pulumi preview`/`up` and
    # offline plan imports this module to register the resource; hvac and the bootstrap steps cost ~0.7 s to import.
    import hvac

    from components.vault.bootstrap.app_secrets_configure import DataCredentials
    from components.vault.bootstrap.steps import SecretsManagerStore, bootstrap

    if not LOG.handlers:  # the provider process has no logging set up; Pulumi shows its stderr
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("vault-bootstrap: %(message)s"))
        LOG.addHandler(handler)
        LOG.setLevel(logging.INFO)
    spec = spec_from_props(props)
    port = int(props["port"])
    namespace, pod = str(props["namespace"]), str(props["pod_name"])
    core_v1 = core_v1_api(props["kubeconfig"]) if open_stream is None else None
    forward = PortForward(open_stream or functools.partial(open_pod_stream, core_v1, namespace, pod, port))
    # While Vault does not answer, the pod's state tells a crash loop or a missing image (report now) from a pod
    # that is still starting (wait).
    diagnose = PodDiagnosis(core_v1, namespace, pod, forward) if core_v1 is not None else None
    with _ca_bundle_file(str(props["vault_ca_pem"])) as ca_path, forward as local_port:
        # 127.0.0.1 is one of the SANs of Vault's listener certificate precisely so that a client behind a
        # port-forward verifies the certificate without overriding the hostname (an IP address sends no SNI).
        client = hvac.Client(  # type: ignore[no-untyped-call]  # hvac's constructor is unannotated
            url=f"https://127.0.0.1:{local_port}", verify=ca_path, token="")
        store = SecretsManagerStore(str(props["recovery_secret_arn"]), str(props["region"]))
        apps_json = str(props.get("app_secrets") or "")
        master = functools.partial(rds_master_credential, str(props.get("postgres_master_secret_arn") or ""),
                                   str(props["region"]))
        result = bootstrap(client, spec, store, LOG, diagnose=diagnose, app_secrets=app_secrets.from_json(apps_json),
                           data_credentials=DataCredentials(postgres_master=master))
    return {"root_ca_pem": result.root_ca_pem, "spec_hash": spec_hash(spec, apps_json)}


def rds_master_credential(secret_arn: str, region: str) -> tuple[str, str]:
    """(user name, password) from the secret RDS manages for its master user; read only to seed Vault's own account."""
    # Ref: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html (the secret's JSON holds
    # "username" and "password"). boto3 ships no type information and only the provider process needs it.
    if not secret_arn:
        raise ValueError("the RDS master user secret's ARN is not set; Vault's PostgreSQL connection cannot be seeded")
    client = importlib.import_module("boto3").client("secretsmanager", region_name=region)
    value = client.get_secret_value(SecretId=secret_arn)
    document = json.loads(value["SecretString"])
    return str(document["username"]), str(document["password"])


def read_anchor(props: Mapping[str, Any], *, open_stream: Callable[[], Any] | None = None) -> str:
    """The certificate of the PKI mount's default issuer (the current trust anchor), through the same port-forward."""
    # Imported here for the reason converge gives: only the provider process reads Vault.
    import hvac

    from components.vault.bootstrap.api import VaultBootstrapError, vault_read, vault_step

    spec = spec_from_props(props)
    namespace, pod, port = str(props["namespace"]), str(props["pod_name"]), int(props["port"])
    core_v1 = core_v1_api(props["kubeconfig"]) if open_stream is None else None
    forward = PortForward(open_stream or functools.partial(open_pod_stream, core_v1, namespace, pod, port))
    with _ca_bundle_file(str(props["vault_ca_pem"])) as ca_path, forward as local_port:
        client = hvac.Client(  # type: ignore[no-untyped-call]  # hvac's constructor is unannotated
            url=f"https://127.0.0.1:{local_port}", verify=ca_path, token="")
        with vault_step("read the trust anchor", client.url):
            # Ref: https://developer.hashicorp.com/vault/api-docs/secret/pki#read-issuer-certificate (issuer/:ref/json,
            # unauthenticated; the reference `default` is the mount's default issuer)
            certificate = str(vault_read(client, f"{spec.pki_path}/issuer/default/json").get("certificate") or "")
    if "BEGIN CERTIFICATE" not in certificate:
        raise VaultBootstrapError("read the trust anchor: Vault's answer holds no certificate")
    return certificate.strip() + "\n"


def core_v1_api(kubeconfig: str | Mapping[str, Any]) -> Any:
    """A CoreV1Api for the cluster in `kubeconfig` (YAML/JSON text, or already parsed)."""
    kubernetes = importlib.import_module("kubernetes")  # ships no type information
    config = yaml.safe_load(kubeconfig) if isinstance(kubeconfig, str) else dict(kubeconfig)
    # Ref: kubernetes-client/python config/kube_config.py new_client_from_config_dict (persist_config=False: there
    # is no file to write refreshed credentials back to).
    api_client = kubernetes.config.new_client_from_config_dict(config, persist_config=False)
    return kubernetes.client.CoreV1Api(api_client)


def open_pod_stream(core_v1: Any, namespace: str, pod: str, port: int) -> Any:
    """One TCP stream to `pod:port` through the API server (a socket-like object)."""
    # Ref: kubernetes-client/python kubernetes/stream/ws_client.py (portforward_call -> PortForward.socket(port))
    # and examples/pod_portforward.py. Each call is a new websocket, so every local connection gets its own.
    stream = importlib.import_module("kubernetes.stream")
    forward = stream.portforward(core_v1.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))
    return forward.socket(port)


class PortForward:
    """A listener on 127.0.0.1:<ephemeral>; each accepted connection is piped to a fresh stream from `open_stream`.

    `with PortForward(opener) as port:` yields the local port; leaving the block closes the listener and every pipe.
    """

    def __init__(self, open_stream: Callable[[], Any]) -> None:
        self._open_stream = open_stream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # lets the accept loop notice the close promptly
        self._closing = threading.Event()
        self._open: list[Any] = []
        self._lock = threading.Lock()
        self.last_error: Exception | None = None  # why the latest stream could not be opened (PodDiagnosis reads it)
        self._thread = threading.Thread(target=self._accept_loop, name="vault-port-forward", daemon=True)

    def __enter__(self) -> int:
        self._thread.start()
        return int(self._listener.getsockname()[1])

    def __exit__(self, *_exc: object) -> None:
        self._closing.set()
        self._thread.join(timeout=5)
        self._listener.close()
        with self._lock:
            for sock in self._open:
                _close(sock)
            self._open.clear()

    def _accept_loop(self) -> None:
        while not self._closing.is_set():
            try:
                local, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            local.settimeout(None)
            try:
                remote = self._open_stream()
            except Exception as exc:  # e.g. pod not found, RBAC refuses pods/portforward
                if str(exc) != str(self.last_error):  # once per distinct cause, not at every retry
                    LOG.warning("port-forward to the Vault pod failed: %s", " ".join(str(exc).split()))
                self.last_error = exc
                _close(local)
                continue
            self.last_error = None
            with self._lock:
                self._open += [local, remote]
            for src, dst in ((local, remote), (remote, local)):
                threading.Thread(target=_pump, args=(src, dst), daemon=True).start()


class PodDiagnosis:
    """Why the Vault pod does not answer, asked of the Kubernetes API: a cause only when waiting cannot help.

    Called by the bootstrap between retries while Vault is unreachable. A container waiting in CrashLoopBackOff or
    ImagePullBackOff (and the like), a pod that does not exist after `not_found_grace_s`, or an API that refuses
    the deployer the port-forward gives a message naming it; a pod that is pending, pulling or starting gives None.
    """

    # Waiting reasons the kubelet sets that need a change to the pod, its image or its config, not time.
    # Ref: https://github.com/kubernetes/kubernetes/blob/master/pkg/kubelet/images/types.go (ErrImagePull,
    # ImagePullBackOff, InvalidImageName), pkg/kubelet/container/sync_result.go (CrashLoopBackOff,
    # RunContainerError), pkg/kubelet/kuberuntime/kuberuntime_container.go (CreateContainerConfigError,
    # CreateContainerError).
    LASTING = frozenset({"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName",
                         "CreateContainerConfigError", "CreateContainerError", "RunContainerError"})

    def __init__(self, core_v1: Any, namespace: str, pod: str, forward: PortForward | None = None, *,
                 not_found_grace_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        # The grace: the Helm release does not wait (vault.py), so the StatefulSet may not have created the pod yet.
        self._core_v1, self._namespace, self._pod, self._forward = core_v1, namespace, pod, forward
        self._grace, self._clock = not_found_grace_s, clock
        self._missing_since: float | None = None

    def __call__(self) -> str | None:
        where = f"pod {self._namespace}/{self._pod}"
        refused = _api_status(self._forward.last_error) if self._forward is not None else None
        if refused in (401, 403):
            return (f"the Kubernetes API refuses the port-forward to {where} (HTTP {refused}): the deployer needs "
                    f"create on pods/portforward and get on pods in namespace {self._namespace}")
        try:
            found = self._core_v1.read_namespaced_pod(self._pod, self._namespace)
        except Exception as exc:  # the API's own errors (ApiException) and transport errors
            status = _api_status(exc)
            if status in (401, 403):
                return f"the Kubernetes API refuses to read {where} (HTTP {status}): the deployer needs get on pods"
            if status != 404:
                return None  # the API itself did not answer: that may pass
            self._missing_since = self._missing_since if self._missing_since is not None else self._clock()
            if self._clock() - self._missing_since >= self._grace:
                return (f"{where} does not exist ({self._grace:.0f} s after the first look): is the Vault Helm "
                        "release installed in that namespace, and is the bootstrap's pod_name its first pod?")
            return None
        self._missing_since = None
        return _lasting_pod_state(found, self._namespace, self._pod, self.LASTING)


def _api_status(exc: BaseException | None) -> int | None:
    status = getattr(exc, "status", None)  # kubernetes.client.exceptions.ApiException carries the HTTP status
    return status if isinstance(status, int) else None


def _lasting_pod_state(pod: Any, namespace: str, name: str, lasting: frozenset[str]) -> str | None:
    # Ref: https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#PodStatus
    # (containerStatuses[].state.waiting.reason/message, lastState.terminated.exitCode/reason, restartCount).
    status, where = pod.status, f"pod {namespace}/{name}"
    for container in [*(status.init_container_statuses or []), *(status.container_statuses or [])]:
        waiting = container.state.waiting if container.state is not None else None
        if waiting is None or waiting.reason not in lasting:
            continue
        ended = container.last_state.terminated if container.last_state is not None else None
        last = f", last exit code {ended.exit_code} ({ended.reason})" if ended is not None else ""
        hint = (" Vault exits at start when it cannot reach or use its seal's KMS key."
                if waiting.reason == "CrashLoopBackOff" else "")
        return (f"container {container.name} of {where} is in {waiting.reason} ({waiting.message or 'no message'})"
                f"{last}, {container.restart_count} restart(s): see `kubectl -n {namespace} logs {name} -c "
                f"{container.name} --previous` and `kubectl -n {namespace} describe pod {name}`.{hint}")
    if status.phase in ("Failed", "Succeeded"):
        return f"{where} has ended (phase {status.phase}, reason {status.reason or 'none'})"
    return None


def _pump(src: Any, dst: Any) -> None:
    """Copy bytes until either side ends, then close both (the Kubernetes stream has no half-close)."""
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        _close(src)
        _close(dst)


def _close(sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv() on it
    with contextlib.suppress(OSError):
        sock.close()


@contextlib.contextmanager
def _ca_bundle_file(pem: str) -> Iterator[str]:
    """requests verifies against a CA file path: write the (public) CA to a private temp file for the run."""
    handle, path = tempfile.mkstemp(prefix="vault-ca-", suffix=".pem")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(pem)
        yield path
    finally:
        os.unlink(path)
