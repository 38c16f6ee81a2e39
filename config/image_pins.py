"""Release a new image of a service without restating the catalog: `rollout.images` ({service: {tag | digest}}).

The default catalog's tags are fixed in code, and a non-empty `services` key replaces the whole catalog, so a stack
that runs the default catalog needs this to ship `v1.0.1` of one service (and to promote a canary: set the canary's
tag here, then remove the canary). The pin keeps the service's repository (its ECR repository unless the catalog
names another) and replaces only the tag or digest (`catalog.apply_pins`). Rules (`config.rules.rollout`): a known
service, exactly one of tag or digest, never `latest`, a digest of the sha256 form.

`check_pin` is the one tag/digest rule: the catalog's images, canaries and `rollout.images` all use it. This module
imports nothing else of `config`, so the catalog and the traffic models can both import it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from pydantic import BaseModel, ConfigDict

DIGEST: Final = re.compile(r"^sha256:[a-f0-9]{64}$")


class ImagePin(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    tag: str | None = None
    digest: str | None = None


def check_pin(at: str, tag: str | None, digest: str | None, what: str = "") -> Iterator[tuple[str, str]]:
    """Exactly one of a pinned tag (never `latest`) or a sha256 digest; `what` explains whose image it is."""
    if (tag is None) == (digest is None):
        yield at, "set exactly one of tag or digest" + (f" ({what})" if what else "")
    elif tag is not None and tag in ("", "latest"):
        yield f"{at}.tag", f"{tag!r} is not a pinned tag"
    elif digest is not None and not DIGEST.match(digest):
        yield f"{at}.digest", "must be sha256:<64 hex digits>"
