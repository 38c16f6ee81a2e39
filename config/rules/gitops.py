"""Config rules of the `gitops` group: with Argo CD on, a credential-free https repository and a relative path."""

from __future__ import annotations

import re
from collections.abc import Iterator

from config.model import Problem, StackConfig
from config.schema import key

_HTTPS_URL = re.compile(r"^https://[^\s/@]+(/[^\s]*)?$")


def gitops(cfg: StackConfig) -> Iterator[Problem]:
    """Argo CD needs a repository it can reach through the namespace's 443-only egress, and a path inside it."""
    if not cfg.argocd_enabled:
        return
    if not _HTTPS_URL.match(cfg.gitops_repo_url):
        yield Problem(key("gitops.repoUrl"), f"{cfg.gitops_repo_url!r} must be an https:// Git URL without credentials "
                                             "(gitops.argocd is on; the argocd namespace allows egress on 443 only)")
    path = cfg.gitops_path
    if not path or path.startswith("/") or ".." in path.split("/"):
        yield Problem(key("gitops.path"),
            f"{path!r} must be a relative directory inside the repository (gitops.argocd is on)")
    if not cfg.gitops_target_revision.strip():
        yield Problem(key("gitops.targetRevision"), "must name a branch, tag or commit")
