"""Approved copy from the brand's knowledge base, and care tips quoted verbatim."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from agent.domain import BrandProfile, Channel, CustomerContext, MessageKind
from agent.drafting.kinds import offer_sentence
from agent.drafting.render import Tip, display_name

# A single-brace placeholder such as {problem}; the platform's {{review_link}} is not one.
_PLACEHOLDER = re.compile(r"(?<!\{)\{[a-z_]+\}(?!\})")


class MissingApprovedCopy(LookupError):
    pass


def approved_fields(
    brand: BrandProfile,
    kind: MessageKind,
    channel: Channel,
    offer: str | None,
    *,
    variant: str | None = None,
    values: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Return the approved subject, body and call to action for a kind and channel.

    Keys are looked up from the most to the least specific: `<kind>/<variant>` for a variant
    such as `ugc`, `<kind>/offer` when an offer applies, then `<kind>/<channel>`, then
    `<kind>`. An `{offer}` placeholder in the body is filled with the offer; a body without
    one gets the standard offer sentence. Other placeholders, such as `{problem}`, are filled
    from `values`; one without a value raises MissingApprovedCopy.
    """
    keys = [f"{kind}/{variant}"] if variant else []
    keys += ([f"{kind}/offer"] if offer else []) + [f"{kind}/{channel}", str(kind)]
    copy = next((brand.approved_copy[k] for k in keys if k in brand.approved_copy), None)
    if copy is None:
        raise MissingApprovedCopy(
            f"brand `{brand.brand_id}` has no approved copy for any of {keys}; "
            "add it to the approved_copy front matter in the brand's kb folder"
        )
    fields = dict(copy)
    body = fields.get("body", "")
    if offer:
        body = body.replace("{offer}", offer) if "{offer}" in body else body + offer_sentence(offer)
    fields["body"] = body.strip()
    return {name: _fill(brand, name, text, values or {}) for name, text in fields.items()}


def _fill(brand: BrandProfile, name: str, text: str, values: Mapping[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(f"{{{key}}}", value)
    missing = _PLACEHOLDER.search(text)
    if missing:
        raise MissingApprovedCopy(
            f"the approved {name} of brand `{brand.brand_id}` contains the placeholder "
            f"{missing.group()!r}, which this message has no value for; remove it from the "
            "approved_copy front matter or use a kind that fills it"
        )
    return text


def _stems(text: str) -> set[str]:
    words = "".join(ch if ch.isalpha() else " " for ch in text.lower()).split()
    return {w.removesuffix("s") for w in words if len(w) >= 3}


def pick_tip(context: CustomerContext, brand: BrandProfile) -> Tip | None:
    """Choose the care tip that best fits a product in the customer's last order.

    Each line whose family has tips is scored against each tip by the words they share, so
    "doormat" matches a tip about doormats. The best pair wins, and earlier lines win ties.
    Among equally good tips of one product a hash of the order id decides, so reruns agree.
    """
    order = context.last_order()
    if order is None:
        return None
    tips_by_family = {f.family_id: f.tips for f in brand.families if f.tips}
    digest = hashlib.sha256(order.order_id.encode()).digest()
    best: tuple[int, Tip] | None = None
    for line in order.lines:
        tips = tips_by_family.get(line.family or "")
        if not tips:
            continue
        product = _stems(line.description)
        scores = [len(product & _stems(tip)) for tip in tips]
        top = [tip for tip, score in zip(tips, scores, strict=True) if score == max(scores)]
        candidate = (max(scores), Tip(display_name(line.description), top[digest[0] % len(top)]))
        if best is None or candidate[0] > best[0]:
            best = candidate
    # NOTE: a product that shares no word with any tip of its family gets one of the
    # family's tips, which may be about a different item of that family.
    return best[1] if best else None
