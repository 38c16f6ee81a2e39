"""cert-manager: the controller that issues and renews every certificate of the trust chain.

Installed with its CRDs (kept on uninstall), HA in staging/prod (controller 2, webhook 3, cainjector 2, PDBs).
Everything that creates cert-manager objects depends on this release, which Pulumi waits for: its webhook must
answer before a ClusterIssuer or Certificate can be admitted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.mesh.cert_manager_values import cert_manager_values
from components.shared.helm import release
from config import versions

# The controller's service account (chart default `cert-manager` for a release named cert-manager): it requests
# bound tokens for the ClusterIssuer.
CONTROLLER_SERVICE_ACCOUNT = "cert-manager"


@dataclass(frozen=True)
class CertManagerArgs:
    namespace: pulumi.Input[str]
    ha: bool
    depends_on: Sequence[pulumi.Resource] = ()  # nodes for its pods: the release waits for them to be ready


class CertManager(pulumi.ComponentResource):
    """The cert-manager Helm release."""

    def __init__(self, name: str, args: CertManagerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:mesh:CertManager", name, None, opts)
        self.release = release("cert-manager", "cert-manager", versions.CERT_MANAGER_CHART,
                               versions.CERT_MANAGER_REPOSITORY, args.namespace, cert_manager_values(args.ha),
                               pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)))
        self.register_outputs({"status": self.release.status})
