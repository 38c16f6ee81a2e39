"""The rotation controller's own rules without a server: the health gate, the status record, requests (pause,
resume, abort, start), the automatic start below the threshold, the stuck signal, and the CronJob/RBAC the program
registers for it (what `kube_side.py` and `main.py` read must be what the CronJob gives them)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from components.mesh import mesh as mesh_module
from components.mesh import rotation_specs
from components.mesh.anchor_rotation import main as rotation_main
from components.mesh.anchor_rotation.phases import (
    ABORT_PHASES,
    IDLE,
    PHASES,
    Health,
    Rotation,
    Settings,
    Status,
    gate_problems,
)
from components.monitoring.monitoring_values import PROMETHEUS_URL
from components.vault.bootstrap.spec import BootstrapSpec, anchor_generation, spec_from_props, spec_to_props
from config import versions
from tests.conftest import STACKS, plan_of
from tests.helpers.anchor_world import START, LocalVault, MeshWorld, clock_of

LOG = logging.getLogger("test.anchor_rotation.phases")
SPEC = BootstrapSpec(root_common_name="r", audience="vault://vault-issuer")
DAY = 86400.0


@pytest.mark.parametrize(("health", "expected"), [
    (Health(certificates_not_ready=("linkerd-identity-issuer",)), "certificate not Ready: linkerd-identity-issuer"),
    (Health(pods_not_ready=("app/a-1",)), "pod not Ready: app/a-1"),
    (Health(pods_unmeshed=("app/a-1",)), "pod not meshed (no linkerd-proxy): app/a-1"),
    (Health(authz_denials=3.0), "3 authorization denial(s) in the window (max 0)"),
    (Health(plaintext_responses=1.0), "1 response(s) without mTLS in the window"),
])
def test_the_gate_names_each_problem(health: Health, expected: str) -> None:
    assert gate_problems(health) == [expected]


def test_the_gate_passes_a_healthy_mesh_and_tolerates_what_it_is_told_to() -> None:
    assert gate_problems(Health(authz_denials=0.0, plaintext_responses=0.0)) == []
    assert gate_problems(Health()) == []  # no Prometheus (sandbox): only the Kubernetes checks apply
    assert gate_problems(Health(authz_denials=2.0), max_denials=2.0) == []


def test_the_status_record_round_trips_and_leaves_the_request_to_people() -> None:
    status = Status(phase="reissue", generation=3, old_issuer="trust-anchor-2", new_issuer="trust-anchor-3",
                    paused=True, phase_started=1234.0, reissue_from_revision=7, message="m",
                    done=("new-root", "bundle-both"))
    data = status.to_data()
    assert "request" not in data and Status.from_data(data) == status
    assert Status.from_data({}) == Status(phase=IDLE)


def world_and_rotation(threshold_days: float = 365, **status: str) -> tuple[MeshWorld, LocalVault, Rotation]:
    holder: list[MeshWorld] = []
    vault = LocalVault(SPEC, lambda: holder[0].now() if holder else START)
    world = MeshWorld(vault.sign_intermediate, vault.issuers()[0].pem, [("linkerd", "id", "id", 1),
                                                                        ("app", "a", "a", 2)])
    holder.append(world)
    world.status = dict(status)
    settings = Settings("linkerd", ("app",), threshold_s=threshold_days * DAY, stuck_after_s=3600)
    return world, vault, Rotation(world, vault, settings, lambda n: anchor_generation(SPEC, n), LOG,
                                  clock_of(world))


def test_nothing_starts_while_the_anchor_has_more_left_than_the_threshold() -> None:
    _, vault, rotation = world_and_rotation(threshold_days=365)
    assert rotation.run().phase == IDLE and vault.calls == []


def test_a_rotation_starts_by_itself_below_the_threshold() -> None:
    world, vault, rotation = world_and_rotation(threshold_days=3651)  # a 10-year anchor has < 3651 days left
    status = rotation.run()
    assert status.phase == "done" and status.message == "" and vault.default == "trust-anchor-2"
    assert world.status["generation"] == "2" and world.status["done"] == ",".join(PHASES)


def test_an_unhealthy_mesh_blocks_the_next_phase_until_it_recovers() -> None:
    world, vault, rotation = world_and_rotation(request="start")
    world.unhealthy = Health(pods_unmeshed=("app/a-7",))
    status = rotation.run()
    assert status.phase == "new-root" and "health gate before new-root: pod not meshed" in status.message
    assert vault.calls == [] and world.status["request"] == ""
    world.unhealthy = None
    assert rotation.run().phase == "done"


def test_pause_holds_the_rotation_and_resume_continues_it() -> None:
    world, vault, rotation = world_and_rotation(request="start")
    world.unhealthy = Health(pods_not_ready=("app/a-1",))
    rotation.run()  # started, blocked before new-root
    world.status["request"], world.unhealthy = "pause", None
    status = rotation.run()
    assert status.paused and status.phase == "new-root" and vault.calls == []
    world.status["request"] = "resume"
    assert rotation.run().phase == "done"


def test_abort_is_refused_once_the_issuer_moved_to_the_new_root(caplog: pytest.LogCaptureFixture) -> None:
    world, vault, rotation = world_and_rotation(request="start")
    world.unhealthy = Health(pods_not_ready=("app/x",))
    rotation.run()
    # As if a run had switched the default issuer inside `reissue` and was killed there.
    vault.generate(2)
    vault.set_default("trust-anchor-2")
    world.status.update({"phase": "reissue", "newIssuer": "trust-anchor-2", "request": "abort"})
    world.unhealthy = None
    status = rotation.run()
    assert "abort refused at reissue: the identity issuer already moved" in caplog.text
    assert status.phase == "done" and world.status["request"] == "" and "abort-bundle-old" not in status.done


def test_an_abort_before_the_switch_runs_the_abort_phases() -> None:
    world, vault, rotation = world_and_rotation(request="start")
    world.unhealthy = Health(pods_not_ready=("app/x",))
    rotation.run()
    world.unhealthy = None
    world.status["request"] = "abort"
    status = rotation.run()
    assert status.phase == "aborted" and status.done == ABORT_PHASES and vault.default == "trust-anchor"


def test_a_phase_running_past_the_stuck_threshold_is_reported() -> None:
    world, _, rotation = world_and_rotation()
    running = Status(phase="restart-trust", phase_started=world.now().timestamp() - 7200)
    assert rotation.stuck(running)
    assert not rotation.stuck(Status(phase="restart-trust", phase_started=world.now().timestamp()))
    assert not rotation.stuck(Status(phase="restart-trust", paused=True, phase_started=0))


def test_an_unknown_request_is_named_and_cleared() -> None:
    world, _, rotation = world_and_rotation(request="rollback")
    assert "unknown request 'rollback' ignored" in rotation.run().message and world.status["request"] == ""


# --- what the program registers -----------------------------------------------------------------------------------

def _cronjob_env(plan: Any) -> dict[str, str]:
    cronjob = plan.one("kubernetes:batch/v1:CronJob", "trust-anchor-rotation-cronjob").inputs["spec"]
    container = cronjob["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item["value"] for item in container["env"]}


@pytest.mark.parametrize("stack", STACKS)
def test_the_cronjob_gives_the_controller_everything_it_reads(stack: str) -> None:
    plan = plan_of(stack)
    env = _cronjob_env(plan)
    settings, targets = rotation_main.settings_from(env)
    assert settings.meshed_namespaces == (f"{stack}-app",) and settings.control_plane_namespace == "linkerd"
    assert settings.threshold_s == 365 * DAY and settings.stuck_after_s == 6 * 3600
    assert targets.prometheus_url == ("" if stack == "sandbox" else PROMETHEUS_URL)
    bootstrap = spec_from_props(plan.one("pulumi-python:dynamic:Resource", "vault-bootstrap").inputs)
    assert spec_from_props(json.loads(env["BOOTSTRAP_SPEC"])) == bootstrap  # same names, paths, role, audience
    spec = plan.one("kubernetes:batch/v1:CronJob", "trust-anchor-rotation-cronjob").inputs["spec"]
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    token = pod["volumes"][2]["projected"]["sources"][0]["serviceAccountToken"]
    assert token["audience"] == bootstrap.rotation_audience and pod["serviceAccountName"] == \
        bootstrap.rotation_service_account
    assert spec["concurrencyPolicy"] == "Forbid" and env["VAULT_TOKEN_FILE"].startswith(rotation_specs.TOKEN_DIR)


@pytest.mark.parametrize("stack", ["prod"])
def test_rbac_is_exactly_what_the_controller_uses(stack: str) -> None:
    plan = plan_of(stack)
    roles = {r.name: r.inputs for r in plan.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
             if r.name.startswith("trust-anchor-rotation")}
    assert set(roles) == {"trust-anchor-rotation-role", "trust-anchor-rotation-role-meshed-1"}
    assert roles["trust-anchor-rotation-role"]["metadata"]["namespace"] == "linkerd"
    assert roles["trust-anchor-rotation-role-meshed-1"]["metadata"]["namespace"] == f"{stack}-app"
    every = [rule for role in roles.values() for rule in role["rules"]]
    verbs = {verb for rule in every for verb in rule["verbs"]}
    assert verbs == {"get", "list", "patch"}  # no create, update, delete, watch, escalate
    assert not any("secrets" in rule["resources"] or "*" in rule["resources"] for rule in every)
    configmaps = next(r for r in every if r["resources"] == ["configmaps"])
    assert configmaps["resourceNames"] == ["trust-anchor-rotation", "linkerd-identity-trust-roots"]
    bindings = [r for r in plan.of_type("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
                if r.name.startswith("trust-anchor-rotation")]
    assert {s["name"] for b in bindings for s in b.inputs["subjects"]} == {"trust-anchor-rotation"}
    assert not [r for r in plan.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
                if "rotation" in r.name]


def test_the_mesh_layer_queries_the_prometheus_the_monitoring_layer_runs() -> None:
    assert mesh_module.PROMETHEUS_URL == PROMETHEUS_URL


def test_the_bootstrap_spec_travels_to_the_job_unchanged() -> None:
    assert spec_from_props(json.loads(json.dumps(spec_to_props(SPEC)))) == SPEC


@pytest.mark.parametrize("stack", STACKS)
def test_the_image_repository_is_immutable_scanned_encrypted_and_named_by_the_cronjob(stack: str) -> None:
    plan = plan_of(stack)
    repo = plan.one("aws:ecr/repository:Repository", "trust-anchor-rotation-image")
    data_key = plan.one("aws:kms/key:Key", "keys-data").outputs["arn"]
    assert repo.inputs["name"] == f"mtls-platform-{stack}/trust-anchor-rotation"
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE" and repo.inputs["imageScanningConfiguration"] == {
        "scanOnPush": True} and repo.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS",
                                                                              "kmsKey": data_key}]
    assert repo.protect is (stack in ("staging", "prod"))
    spec = plan.one("kubernetes:batch/v1:CronJob", "trust-anchor-rotation-cronjob").inputs["spec"]
    image = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"{repo.outputs['repositoryUrl']}:{versions.ANCHOR_ROTATION_IMAGE_TAG}"
