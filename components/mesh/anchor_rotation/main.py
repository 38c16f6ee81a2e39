"""Entry point of the `trust-anchor-rotation` CronJob: `python -m components.mesh.anchor_rotation.main`.

Reads its settings from the environment the CronJob sets (components/mesh/rotation_specs.py), logs in to Vault
with the pod's projected, audience-bound token, and runs one `Rotation.run()`. Exit codes: 0 (done, idle, paused or
waiting for a gate), 3 (a phase has been running longer than the stuck threshold: the Job fails, which the
TrustAnchorRotationStuck alert reads), 1 (an error; the message names the step).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping

import hvac

from components.mesh.anchor_rotation.kube_side import KubeCluster, KubeTargets, in_cluster_apis
from components.mesh.anchor_rotation.phases import Rotation, Settings, now
from components.mesh.anchor_rotation.vault_side import HvacAnchorVault, login
from components.shared.cli import run
from components.vault.bootstrap.spec import anchor_generation, spec_from_props

STUCK_EXIT = 3


def settings_from(env: Mapping[str, str]) -> tuple[Settings, KubeTargets]:
    meshed = tuple(n for n in env["MESHED_NAMESPACES"].split(",") if n)
    settings = Settings(control_plane_namespace=env["CONTROL_PLANE_NAMESPACE"], meshed_namespaces=meshed,
                        threshold_s=float(env["THRESHOLD_DAYS"]) * 86400,
                        stuck_after_s=float(env["STUCK_HOURS"]) * 3600,
                        rollout_timeout_s=float(env.get("ROLLOUT_TIMEOUT_S", "1800")))
    targets = KubeTargets(control_plane_namespace=env["CONTROL_PLANE_NAMESPACE"], meshed_namespaces=meshed,
                          status_configmap=env["STATUS_CONFIGMAP"], trust_roots_configmap=env["TRUST_ROOTS_CONFIGMAP"],
                          identity_issuer=env["IDENTITY_ISSUER"], prometheus_url=env.get("PROMETHEUS_URL", ""))
    return settings, targets


def main(env: Mapping[str, str] = os.environ) -> int:
    logging.basicConfig(level=logging.INFO, format="trust-anchor-rotation: %(levelname)s %(message)s",
                        stream=sys.stderr)
    log = logging.getLogger("mtls_platform.anchor_rotation")
    spec = spec_from_props(json.loads(env["BOOTSTRAP_SPEC"]))
    settings, targets = settings_from(env)
    client = hvac.Client(url=env["VAULT_ADDR"], verify=env["VAULT_CACERT"], token="")  # type: ignore[no-untyped-call]
    with open(env["VAULT_TOKEN_FILE"], encoding="utf-8") as handle:
        login(client, spec, handle.read().strip())
    rotation = Rotation(KubeCluster(*in_cluster_apis(), targets), HvacAnchorVault(client, spec), settings,
                        lambda name: anchor_generation(spec, name), log, now)
    status = rotation.run()
    log.info("phase %s%s%s", status.phase, " (paused)" if status.paused else "",
             f": {status.message}" if status.message else "")
    if rotation.stuck(status):
        log.error("phase %s has run for more than %.0f h", status.phase, settings.stuck_after_s / 3600)
        return STUCK_EXIT
    return 0


if __name__ == "__main__":
    run(main, "trust-anchor-rotation")
