"""The input every guardrail check receives, and the signature of a check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from agent.domain import BrandProfile, Channel, CustomerContext, Finding, MessageKind


@dataclass(frozen=True)
class RenderedMessage:
    """The message as the customer would see it. `html` and `subject` are None for SMS."""

    text: str
    subject: str | None = None
    html: str | None = None


@dataclass(frozen=True)
class CheckInput:
    context: CustomerContext
    brand: BrandProfile
    kind: MessageKind
    channel: Channel
    as_of: datetime
    # The structured fields the message was rendered from, keyed by slot name.
    fields: dict[str, str]
    rendered: RenderedMessage
    # The offer text the brand's ladder allows for this customer, or None.
    allowed_offer: str | None = None
    # Every product description the shop sells (upper case, as imported), for spotting
    # products the customer never bought.
    catalogue: frozenset[str] = field(default_factory=frozenset)


Check = Callable[[CheckInput], list[Finding]]
