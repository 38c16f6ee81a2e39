"""Run the real Pulumi program for one stack on the SDK's mock engine and record what it registers.

This is the project's offline plan: no Pulumi CLI, no cloud credentials. The plan command, the benchmark and the
tests all go through `run_stack`, so what the tests assert is exactly what `make plan` shows. The mocks answer
with plausible per-type outputs (ARNs, endpoints, a kubeconfig) so that later layers see realistic values.
"""

from __future__ import annotations

import asyncio
import json
import os
import runpy
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as runtime_resource
from pulumi.runtime import settings
from pulumi.runtime.proto import resource_pb2, source_pb2
from pulumi.runtime.rpc import deserialize_properties_unwrap_secrets
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from config.load import TODAY_VARIABLE

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
# Stands in for every `secure:` value of a stack file: the offline plan never decrypts secrets.
SECRET_PLACEHOLDER = "offline-plan-placeholder-secret"


@dataclass
class Registration:
    """One resource the program registered, with the options the engine would see."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    protect: bool
    retain_on_delete: bool
    secret_inputs: bool
    dependencies: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)

    @property
    def is_component(self) -> bool:
        return not self.custom


@dataclass
class Plan:
    """Everything one offline run produced."""

    stack: str
    resources: list[Registration]
    outputs: dict[str, Any]
    secret_outputs: set[str]

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Registration:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_)]
            raise LookupError(f"expected one {type_} named {name!r}, found {len(found)} among {names}")
        return found[0]

    def by_urn(self, urn: str) -> Registration | None:
        return self._index.get(urn)

    def children(self, parent_urn: str) -> Iterator[Registration]:
        return (r for r in self.resources if r.parent == parent_urn)

    def child(self, component_type: str, component: str, type_: str) -> Registration:
        """The one resource of `type_` directly inside the named component."""
        found = [r for r in self.children(self.one(component_type, component).urn) if r.type == type_]
        if len(found) != 1:
            raise LookupError(f"expected one {type_} in {component_type} {component!r}, found {len(found)}")
        return found[0]

    def type_counts(self) -> Counter[str]:
        return Counter(r.type for r in self.resources)

    @property
    def _index(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.resources}


def _arn(type_: str, name: str, region: str) -> str:
    service = type_.split(":")[1].split("/")[0]
    if service in {"iam", "s3"}:
        return f"arn:aws:{service}::{ACCOUNT}:{name}"
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{name}"


class PlanMocks(pulumi.runtime.Mocks):
    """Echo inputs, plus the computed outputs later code reads, per resource type and invoke token."""

    def __init__(self, region: str) -> None:
        self.region = region

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        out = dict(args.inputs)
        name, t = args.name, args.typ
        physical = out.get("name") or name
        out.setdefault("arn", _arn(t, physical, self.region))
        if t.startswith("aws:"):
            out.setdefault("name", physical)  # auto-named resources: what a reference by name would read
        extra = _TYPE_OUTPUTS.get(t)
        if extra is not None:
            out.update(extra(name, out, self.region))
        return f"{name}-id", out

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        answer = _INVOKES.get(args.token)
        if answer is None:
            raise NotImplementedError(f"offline plan has no mock for invoke {args.token}")
        return answer(args.args, self.region), []


def _eks_cluster(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    cluster = inputs.get("name", name)
    issuer = f"oidc.eks.{region}.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {
            "server": f"https://0123456789ABCDEF.gr7.{region}.eks.amazonaws.com",
            "certificate-authority-data": "LS0tLS1CRUdJTi1vZmZsaW5lLXBsYW4tLS0tLQ==",
        }}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
        "current-context": cluster,
        "users": [{"name": cluster, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster, "--output", "json"],
        }}}],
    }
    return {
        "kubeconfig": kubeconfig,
        "kubeconfigJson": json.dumps(kubeconfig),
        "clusterSecurityGroupId": f"sg-{cluster}-cluster",
        "nodeSecurityGroupId": f"sg-{cluster}-node",
        "oidcProviderArn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer}",
        "oidcProviderUrl": f"https://{issuer}",
        "oidcIssuer": issuer,
    }


_TypeOutputs = Callable[[str, dict[str, Any], str], dict[str, Any]]
_TYPE_OUTPUTS: dict[str, _TypeOutputs] = {
    "eks:index:Cluster": _eks_cluster,
    "aws:ec2/instance:Instance": lambda n, i, r: {"primaryNetworkInterfaceId": f"eni-{n}"},
    "aws:kms/key:Key": lambda n, i, r: {"keyId": f"{n}-key-id", "arn": f"arn:aws:kms:{r}:{ACCOUNT}:key/{n}"},
    "aws:s3/bucket:Bucket": lambda n, i, r: {"bucket": i.get("bucket", f"{n}-bucket"),
                                             "arn": f"arn:aws:s3:::{i.get('bucket', f'{n}-bucket')}"},
    "aws:iam/role:Role": lambda n, i, r: {"name": i.get("name", n), "arn": f"arn:aws:iam::{ACCOUNT}:role/{n}"},
    "aws:ec2/vpc:Vpc": lambda n, i, r: {"defaultSecurityGroupId": f"sg-{n}-default"},
    "aws:ecr/repository:Repository": lambda n, i, r: {
        "repositoryUrl": f"{ACCOUNT}.dkr.ecr.{r}.amazonaws.com/{i.get('name', n)}"},
    "aws:rds/instance:Instance": lambda n, i, r: {
        "address": f"{n}.abcdefghijkl.{r}.rds.amazonaws.com",
        "endpoint": f"{n}.abcdefghijkl.{r}.rds.amazonaws.com:5432",
        "masterUserSecrets": [{"secretArn": f"arn:aws:secretsmanager:{r}:{ACCOUNT}:secret:rds!{n}",
                               "kmsKeyId": i.get("masterUserSecretKmsKeyId", ""), "secretStatus": "active"}],
    },
    # One instance, or the active/standby pair (-1, -2) as Amazon MQ reports them.
    "aws:mq/broker:Broker": lambda n, i, r: {"instances": [
        {"endpoints": [f"ssl://b-{n}-{k}.mq.{r}.amazonaws.com:61617", f"amqp+ssl://b-{n}-{k}.mq.{r}.amazonaws.com:5671"]}
        for k in range(1, 3 if i.get("deploymentMode") == "ACTIVE_STANDBY_MULTI_AZ" else 2)]},
    "aws:elasticache/replicationGroup:ReplicationGroup": lambda n, i, r: {
        "primaryEndpointAddress": f"master.{n}.abcdef.use1.cache.amazonaws.com",
        "readerEndpointAddress": f"replica.{n}.abcdef.use1.cache.amazonaws.com",
    },
    "aws:servicecatalog/provisionedProduct:ProvisionedProduct": lambda n, i, r: {
        "outputs": [{"key": "Endpoint", "value": f"{n}.catalog.internal", "description": "mock"},
                    {"key": "SecretArn", "value": f"arn:aws:secretsmanager:{r}:{ACCOUNT}:secret:{n}-credentials",
                     "description": "mock"}],
    },
    "tls:index/privateKey:PrivateKey": lambda n, i, r: {"privateKeyPem": f"{SECRET_PLACEHOLDER}-{n}-key",
                                                         "publicKeyPem": _pem("PUBLIC KEY", n)},
    "tls:index/selfSignedCert:SelfSignedCert": lambda n, i, r: {"certPem": _pem("CERTIFICATE", n)},
    "tls:index/certRequest:CertRequest": lambda n, i, r: {"certRequestPem": _pem("CERTIFICATE REQUEST", n)},
    "tls:index/locallySignedCert:LocallySignedCert": lambda n, i, r: {"certPem": _pem("CERTIFICATE", n)},
    "kubernetes:helm.sh/v3:Release": lambda n, i, r: {"status": {"status": "deployed", "name": i.get("name", n)}},
    # The Vault bootstrap's dynamic resource: the trust anchor it would read from Vault.
    "pulumi-python:dynamic:Resource": lambda n, i, r: {"root_ca_pem": _pem("CERTIFICATE", f"{n}-trust-anchor"),
                                                       "spec_hash": "mock"} if "vault_ca_pem" in i else {},
    "random:index/randomPassword:RandomPassword": lambda n, i, r: {"result": f"{SECRET_PLACEHOLDER}-{n}"},
    # Public entry: ACM's DNS validation record, Route 53's fqdn, and the ALB the controller writes into the status.
    "aws:acm/certificate:Certificate": lambda n, i, r: {
        "arn": f"arn:aws:acm:{r}:{ACCOUNT}:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
        "domainValidationOptions": [{"domainName": i.get("domainName", ""), "resourceRecordType": "CNAME",
                                     "resourceRecordName": f"_0123456789abcdef.{i.get('domainName', '')}.",
                                     "resourceRecordValue": "_fedcba9876543210.acm-validations.aws."}]},
    "aws:route53/record:Record": lambda n, i, r: {"fqdn": str(i.get("name", n)).rstrip(".")},
    "kubernetes:networking.k8s.io/v1:Ingress": lambda n, i, r: {"status": {"loadBalancer": {"ingress": [
        {"hostname": f"k8s-{n[:20]}-0123456789.{r}.elb.amazonaws.com"}]}}},
}

_INVOKES: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": lambda a, r: {
        "accountId": ACCOUNT, "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/session", "userId": "AIDA",
        "id": ACCOUNT},
    "aws:iam/getSessionContext:getSessionContext": lambda a, r: {
        "arn": a["arn"], "issuerArn": f"arn:aws:iam::{ACCOUNT}:role/deployer", "issuerId": "AROA",
        "issuerName": "deployer", "sessionName": "session", "id": a["arn"]},
    "aws:index/getPartition:getPartition": lambda a, r: {
        "partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws"},
    "aws:ssm/getParameter:getParameter": lambda a, r: {
        "name": a["name"], "value": "ami-0123456789abcdef0", "type": "String", "id": a["name"], "arn": "",
        "insecureValue": "", "version": 1, "withDecryption": False, "region": r},
    "aws:index/getRegion:getRegion": lambda a, r: {"name": r, "region": r, "id": r, "endpoint": "", "description": ""},
    # Ref: https://docs.aws.amazon.com/general/latest/gr/elb.html (us-east-1: ALB zone Z35SXDOTRQ7X7K) and
    # https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html (127311923021)
    "aws:lb/getHostedZoneId:getHostedZoneId": lambda a, r: {"id": "Z35SXDOTRQ7X7K", "region": r,
                                                              "loadBalancerType": "application"},
    "aws:elb/getServiceAccount:getServiceAccount": lambda a, r: {"id": "127311923021", "region": r,
                                                                   "arn": "arn:aws:iam::127311923021:root"},
    "aws:index/getAvailabilityZones:getAvailabilityZones": lambda a, r: {
        "names": [f"{r}{z}" for z in "abcdef"], "zoneIds": [f"use1-az{i}" for i in range(1, 7)], "id": r},
}


def _pem(kind: str, name: str) -> str:
    """A recognisable stand-in for PEM material (the offline plan generates no real keys)."""
    return f"-----BEGIN {kind}-----\noffline-plan:{name}\n-----END {kind}-----\n"


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """MockMonitor that keeps each registration's options and does not advertise resource references.

    Without resource references, a remote component passed as an input (an `eks.Cluster`) travels as its URN
    instead of deadlocking the default monitor's deserializer.
    Ref: pulumi/pulumi sdk/python/lib/pulumi/runtime/mocks.py, MockMonitor.SupportsFeature.
    """

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            inputs, secret = deserialize_properties_unwrap_secrets(request.object)
            self.registrations.append(Registration(
                type=request.type, name=request.name, urn=response.urn, parent=request.parent,
                custom=bool(request.custom), inputs=inputs, outputs=self.resources[response.urn].state,
                protect=bool(request.protect), retain_on_delete=bool(request.retainOnDelete),
                secret_inputs=secret, dependencies=list(request.dependencies),
                ignore_changes=list(request.ignoreChanges),
            ))
        return response

    def SupportsFeature(self, request: Any) -> Any:
        has = request.id not in {"outputValues", "resourceReferences"}
        return type("SupportsFeatureResponse", (object,), {"hasSupport": has})

    def GetDeploymentInfo(self, request: Any) -> Any:
        info = super().GetDeploymentInfo(request)  # type: ignore[no-untyped-call]
        features = [f for f in info.supportedFeatures
                    if f != resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES]
        return resource_pb2.DeploymentInfo(supportedFeatures=features)


def load_stack_settings(stack: str, root: Path = ROOT) -> dict[str, str]:
    """The stack's config as the CLI would hand it to the program: project defaults, then the stack file."""
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    name = project["name"]
    values: dict[str, Any] = {}
    for k, decl in (project.get("config") or {}).items():
        full = k if ":" in k else f"{name}:{k}"
        if isinstance(decl, dict) and "default" in decl:
            values[full] = decl["default"]
        elif isinstance(decl, dict) and "value" in decl:
            values[full] = decl["value"]
    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        raise FileNotFoundError(f"no stack file {stack_file.name}; stacks: {', '.join(list_stacks(root))}")
    for k, v in ((yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}).items():
        full = k if ":" in k else f"{name}:{k}"
        values[full] = SECRET_PLACEHOLDER if isinstance(v, dict) and "secure" in v else v
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


def list_stacks(root: Path = ROOT) -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def run_stack(stack: str, config: Mapping[str, str] | None = None, program: Path = ROOT / "__main__.py",
              project: str = "mtls-platform", monitor: RecordingMonitor | None = None,
              today: date | None = None) -> Plan:
    """Run `program` for `stack` on the mock engine; `config` replaces the stack files' settings when given.

    Pass your own `monitor` to inspect what was registered even when the program fails. `today` fixes the date the
    program reads support calendars at (tests pass one, so no test depends on the day it runs); unset, the real date.
    """
    settings_ = dict(config) if config is not None else load_stack_settings(stack)
    region = settings_.get("aws:region", "us-east-1")
    monitor = monitor or RecordingMonitor(PlanMocks(region))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # The SDK captures a Python stack trace per registration for the engine's diagnostics; an offline plan has no
    # engine to show them, and the capture costs ~1 ms per resource in a component-nested program.
    capture_stack_trace = runtime_resource._get_stack_trace
    runtime_resource._get_stack_trace = source_pb2.StackTrace
    date_before = os.environ.get(TODAY_VARIABLE)
    if today is not None:
        os.environ[TODAY_VARIABLE] = today.isoformat()
    try:
        pulumi.runtime.set_all_config(settings_, [])
        pulumi_mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)
        settings.SETTINGS.rpc_manager.clear()
        def program_main() -> None:
            runpy.run_path(str(program), run_name="__main__")

        _sync_await(run_pulumi_func(program_main))
        outputs, secret = _sync_await(_resolve_outputs())
    finally:
        runtime_resource._get_stack_trace = capture_stack_trace
        if today is not None:
            if date_before is None:
                del os.environ[TODAY_VARIABLE]
            else:
                os.environ[TODAY_VARIABLE] = date_before
        settings.reset_options()
        pulumi.runtime.set_all_config({}, [])  # the stack's config must not leak into code that runs after us
        loop.close()
        # Leave a fresh default loop behind, as a new main thread would have, for code that runs after us.
        asyncio.set_event_loop(asyncio.new_event_loop())
    return Plan(stack, monitor.registrations, outputs, secret)


async def _resolve_outputs() -> tuple[dict[str, Any], set[str]]:
    root = settings.get_root_resource()
    exported = getattr(root, "outputs", {}) or {}
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for name, value in exported.items():
        out = pulumi.Output.from_input(value)
        values[name] = await out.future()
        if await out.is_secret():
            secret.add(name)
    return values, secret
