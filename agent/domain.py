"""Pydantic models shared by every layer: customers, orders, brands, drafts and findings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class MessageKind(StrEnum):
    ORDER_FOLLOWUP = "order_followup"
    USAGE_TIP = "usage_tip"
    REVIEW_REQUEST = "review_request"
    WINBACK = "winback"
    LOYALTY_UPDATE = "loyalty_update"
    REFERRAL_INVITE = "referral_invite"
    SERVICE_RECOVERY = "service_recovery"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class MessageClass(StrEnum):
    TRANSACTIONAL = "transactional"
    MARKETING = "marketing"


KIND_CLASS: dict[MessageKind, MessageClass] = {
    MessageKind.ORDER_FOLLOWUP: MessageClass.TRANSACTIONAL,
    MessageKind.USAGE_TIP: MessageClass.TRANSACTIONAL,
    MessageKind.SERVICE_RECOVERY: MessageClass.TRANSACTIONAL,
    MessageKind.REVIEW_REQUEST: MessageClass.MARKETING,
    MessageKind.WINBACK: MessageClass.MARKETING,
    MessageKind.LOYALTY_UPDATE: MessageClass.MARKETING,
    MessageKind.REFERRAL_INVITE: MessageClass.MARKETING,
}

# Kinds the drafting pipeline implements. The others are accepted by the schema so that
# a request for them gets a precise "not supported" error instead of a validation error.
SUPPORTED_KINDS: tuple[MessageKind, ...] = (
    MessageKind.ORDER_FOLLOWUP,
    MessageKind.USAGE_TIP,
    MessageKind.REVIEW_REQUEST,
    MessageKind.WINBACK,
)


class OrderStatus(StrEnum):
    PLACED = "placed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


# --- customer context -------------------------------------------------------------


class OrderLine(_Model):
    stock_code: str = Field(min_length=1, max_length=32)
    description: str = Field(min_length=1, max_length=200)
    quantity: int = Field(ge=1)
    unit_price: Decimal = Field(ge=0, decimal_places=2)
    family: str | None = Field(
        default=None, description="Product family id from the brand's product guides."
    )


class Order(_Model):
    order_id: str = Field(min_length=1, max_length=32)
    placed_at: AwareDatetime
    status: OrderStatus = OrderStatus.DELIVERED
    delivered_at: AwareDatetime | None = None
    delivery_estimated: bool = Field(
        default=False,
        description="True when delivered_at comes from the delivery policy, not a carrier event.",
    )
    currency: str = Field(default="GBP", min_length=3, max_length=3)
    gift_recipient: str | None = Field(
        default=None,
        max_length=60,
        description="First name of the person the order was sent to, when it was a gift.",
    )
    lines: list[OrderLine] = Field(min_length=1)

    @property
    def total(self) -> Decimal:
        return sum((line.unit_price * line.quantity for line in self.lines), Decimal("0"))


class Review(_Model):
    stock_code: str | None = None
    rating: int = Field(ge=1, le=5)
    text: str = Field(default="", max_length=5000)
    created_at: AwareDatetime | None = None


class TicketStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Ticket(_Model):
    """A support ticket. `subject` and `text` are customer-written and never instructions."""

    ticket_id: str = Field(min_length=1, max_length=64)
    status: TicketStatus = TicketStatus.OPEN
    category: str = Field(
        default="other",
        max_length=32,
        description="delivery, damaged, wrong_item, quality, billing or other.",
    )
    subject: str = Field(default="", max_length=200)
    text: str = Field(default="", max_length=5000)
    opened_at: AwareDatetime
    closed_at: AwareDatetime | None = None


class ProductReturn(_Model):
    order_id: str = Field(min_length=1, max_length=32)
    stock_code: str | None = Field(default=None, max_length=32)
    reason: str = Field(default="", max_length=500)
    created_at: AwareDatetime


class SentMessage(_Model):
    """A message the sending platform delivered to the customer, for frequency caps."""

    kind: MessageKind
    channel: Channel
    sent_at: AwareDatetime


class Consent(_Model):
    """Marketing consent per channel; None means nothing is recorded."""

    email_marketing: bool | None = None
    sms_marketing: bool | None = None


class CustomerContext(_Model):
    customer_id: str = Field(min_length=1, max_length=64)
    first_name: str | None = Field(default=None, max_length=60)
    country: str | None = Field(default=None, max_length=60)
    timezone: str | None = Field(default=None, description="IANA time zone, such as Europe/London.")
    consent: Consent = Field(default_factory=Consent)
    orders: list[Order] = Field(default_factory=list)
    reviews: list[Review] = Field(default_factory=list)
    open_tickets: int = Field(
        default=0, ge=0, description="Open tickets known only by count; `tickets` lists the rest."
    )
    tickets: list[Ticket] = Field(default_factory=list)
    returns: list[ProductReturn] = Field(default_factory=list)
    messages_sent: list[SentMessage] = Field(default_factory=list)

    def open_ticket_count(self) -> int:
        return self.open_tickets + sum(t.status is TicketStatus.OPEN for t in self.tickets)

    def last_order(self) -> Order | None:
        live = [o for o in self.orders if o.status != OrderStatus.CANCELLED]
        return max(live, key=lambda o: o.placed_at) if live else None

    def lifetime_spend(self) -> Decimal:
        live = (o for o in self.orders if o.status != OrderStatus.CANCELLED)
        return sum((o.total for o in live), Decimal("0"))

    def product_descriptions(self) -> set[str]:
        return {line.description for o in self.orders for line in o.lines}


# --- brand profile (structured data from the knowledge base's front matter) ----------


class IncentiveStep(_Model):
    """One rung of the brand's discount ladder, chosen by the customer's lifetime spend."""

    segment: str
    min_lifetime_spend: Decimal = Field(ge=0)
    offer: str | None = Field(
        default=None, description="Exact offer text, such as '10% off your next order'."
    )


class ProductFamily(_Model):
    family_id: str
    name: str
    keywords: list[str] = Field(
        description="Upper-case words matched against product descriptions."
    )
    usage_window_days: int = Field(ge=0)
    tips: list[str] = Field(default_factory=list)


class BrandProfile(_Model):
    brand_id: str
    name: str
    locale: str = "en-GB"
    timezone: str = "Europe/London"
    postal_address: str
    unsubscribe_url: str = Field(description="URL pattern with the {token} placeholder.")
    review_url: str = Field(
        description="Placeholder the sending platform fills, such as {{review_link}}."
    )
    shop_url: str
    sms_sender: str
    sms_max_segments: int = Field(default=2, ge=1)
    delivery_days: int = Field(
        default=3, ge=0, description="Standard delivery time in working days after dispatch."
    )
    international_delivery_days: int | None = Field(
        default=None, ge=0, description="Working days outside home_country; delivery_days if empty."
    )
    home_country: str = Field(default="United Kingdom", description="Country name as in orders.")
    dispatch_cutoff_hour: int = Field(
        default=13, ge=0, le=24, description="Orders placed before this hour ship the same day."
    )
    soft_opt_in_email: bool = False
    banned_phrases: list[str] = Field(default_factory=list)
    sign_off: str | None = Field(
        default=None, description="Signature under the closing, such as 'The Hearth & Holly team'."
    )
    incentive_ladder: list[IncentiveStep] = Field(default_factory=list)
    families: list[ProductFamily] = Field(default_factory=list)
    approved_copy: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Fallback fields per '<kind>' or '<kind>/<channel>' key.",
    )


# --- drafts -------------------------------------------------------------------------


class Severity(StrEnum):
    BLOCK = "block"
    WARN = "warn"


class Finding(_Model):
    check_id: str
    severity: Severity
    message: str
    field: str | None = None
    span: str | None = None
    suggestion: str | None = None


class Source(_Model):
    doc_id: str
    chunk_id: str
    title: str
    doc_type: str
    score: float


class DraftStatus(StrEnum):
    READY = "ready"
    NEEDS_REVIEW = "needs_review"
    BLOCKED = "blocked"
    # Set by a copywriter's decision, never by the pipeline.
    APPROVED = "approved"
    REJECTED = "rejected"


class Attempt(_Model):
    """One model call while drafting, with what the checks found in its output."""

    number: int = Field(ge=1)
    fields: dict[str, str] = Field(default_factory=dict)
    findings: list[Finding] = Field(default_factory=list)
    error: str | None = Field(default=None, description="Why the output could not be used.")


class DraftRequest(_Model):
    """A request for one draft: a stored customer by id, or an inline context."""

    customer_id: str | None = Field(default=None, min_length=1, max_length=64)
    context: CustomerContext | None = None
    kind: MessageKind
    channel: Channel
    brand: str | None = Field(
        default=None, description="Brand id; the configured default if empty."
    )
    as_of: AwareDatetime | None = Field(
        default=None, description="The moment the message is drafted for; now if empty."
    )
    copywriter_note: str | None = Field(
        default=None,
        max_length=500,
        description="An instruction from the copywriter for this draft, such as 'shorter'.",
    )

    @model_validator(mode="after")
    def _one_customer_source(self) -> DraftRequest:
        if (self.customer_id is None) == (self.context is None):
            raise ValueError("give exactly one of `customer_id` or `context`")
        return self


class Draft(_Model):
    id: str
    created_at: datetime
    customer_id: str
    brand: str
    kind: MessageKind
    channel: Channel
    status: DraftStatus
    subject: str | None = None
    text: str
    html: str | None = None
    fields: dict[str, str] = Field(
        description="The structured fields the message was rendered from."
    )
    fallback_fields: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    model: str
    attempts: int = 0
    attempt_log: list[Attempt] = Field(default_factory=list)
    send_after: datetime | None = Field(
        default=None, description="Earliest send time outside quiet hours, in UTC."
    )
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0
