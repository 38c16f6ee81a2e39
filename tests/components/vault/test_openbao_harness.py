"""The OpenBao harness itself: transit auto-unseal yields recovery keys, and Kubernetes logins reach the TokenReview
stand-in with the pod's own service-account token, as in a vault-helm pod."""

from __future__ import annotations

import hvac.exceptions
import pytest

from tests.helpers.openbao import OpenBaoServer, TokenReviewer, logins_outside_a_pod, needs_bao

pytestmark = needs_bao


def test_transit_auto_unseal_yields_recovery_keys_and_kubernetes_logins_work(
    fresh_openbao: OpenBaoServer, token_reviewer: TokenReviewer,
) -> None:
    client = fresh_openbao.client()
    status = client.sys.read_seal_status()
    assert (status["type"], status["recovery_seal"], status["initialized"]) == ("transit", True, False)
    answer = client.sys.initialize(recovery_shares=3, recovery_threshold=2)
    assert len(answer["recovery_keys_base64"]) == 3 and answer["root_token"]
    assert client.sys.read_seal_status()["sealed"] is False  # unsealed itself with the transit key

    client.token = answer["root_token"]
    client.sys.enable_auth_method("kubernetes")
    if fresh_openbao.kubernetes_login:  # as in a vault-helm pod: the CA and reviewer token come from the pod's files
        client.auth.kubernetes.configure(kubernetes_host=token_reviewer.host, disable_local_ca_jwt=False)
    else:
        logins_outside_a_pod(client, token_reviewer)
    client.write_data("auth/kubernetes/role/r", data={
        "bound_service_account_names": ["sa"], "bound_service_account_namespaces": ["ns"], "audience": "aud",
        "token_policies": ["p"]})
    before = len(token_reviewer.reviews)

    login = fresh_openbao.client().auth.kubernetes.login("r", token_reviewer.service_account_token("sa", "ns", ["aud"]))

    assert login["auth"]["metadata"]["service_account_namespace"] == "ns" and "p" in login["auth"]["policies"]
    assert len(token_reviewer.reviews) == before + 1  # the stand-in was asked (with the pod token as bearer)
    for name, namespace, audience in (("sa", "ns", "other"), ("sa", "other", "aud"), ("x", "ns", "aud")):
        with pytest.raises(hvac.exceptions.VaultError):
            fresh_openbao.client().auth.kubernetes.login(
                "r", token_reviewer.service_account_token(name, namespace, [audience]))
