"""Release a new image of a service without restating the catalog: `rollout.images` ({service: {tag | digest}}).

The default catalog's tags are fixed in code, and a non-empty `services` key replaces the whole catalog, so a stack
that runs the default catalog needs this to ship `v1.0.1` of one service (and to promote a canary: set the canary's
tag here, then remove the canary). The pin keeps the service's repository (its ECR repository unless the catalog
names another) and replaces only the tag or digest. Rules (config_rules.image_pins): a known service, exactly one of
tag or digest, never `latest`, a digest of the sha256 form.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pydantic import BaseModel, ConfigDict

from config.catalog import DIGEST, Catalog, Image


class ImagePin(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    tag: str | None = None
    digest: str | None = None


def apply_pins(catalog: Catalog, pins: Mapping[str, ImagePin]) -> Catalog:
    """The catalog with each pinned service's image tag/digest replaced (unknown names are left to the rule)."""
    return tuple(
        svc.model_copy(update={"image": Image(repository=svc.image.repository, tag=pins[svc.name].tag,
                                              digest=pins[svc.name].digest)})
        if svc.name in pins and _valid(pins[svc.name]) else svc
        for svc in catalog)


def _valid(pin: ImagePin) -> bool:
    return not list(check_pin("", pin.tag, pin.digest))


def check_pin(at: str, tag: str | None, digest: str | None, what: str = "") -> Iterator[tuple[str, str]]:
    """Exactly one of a pinned tag (never `latest`) or a sha256 digest; `what` explains whose image it is."""
    if (tag is None) == (digest is None):
        yield at, "set exactly one of tag or digest" + (f" ({what})" if what else "")
    elif tag is not None and tag in ("", "latest"):
        yield f"{at}.tag", f"{tag!r} is not a pinned tag"
    elif digest is not None and not DIGEST.match(digest):
        yield f"{at}.digest", "must be sha256:<64 hex digits>"
