"""Pydantic models shared by every layer: customers, orders, brands, drafts and findings."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from enum import StrEnum

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from agent.loyalty.models import LoyaltyAccount


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
    MessageKind.LOYALTY_UPDATE,
    MessageKind.REFERRAL_INVITE,
    MessageKind.SERVICE_RECOVERY,
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
    loyalty: LoyaltyAccount | None = Field(
        default=None, description="Loyalty points and tier; None when no ledger is stored."
    )

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


class RecoveryTrigger(StrEnum):
    """Cause of a service-recovery message; agent.drafting.triggers detects each one."""

    LATE_DELIVERY = "late_delivery"
    NOT_DELIVERED = "not_delivered"
    DAMAGED = "damaged"
    WRONG_ITEM = "wrong_item"
    QUALITY = "quality"
    DELIVERY_PROBLEM = "delivery_problem"
    RETURN = "return"
    LOW_RATING = "low_rating"


class RemedyKind(StrEnum):
    REFUND = "refund"
    REPLACEMENT = "replacement"
    REFUND_OR_REPLACEMENT = "refund_or_replacement"
    DELIVERY_REFUND = "delivery_refund"
    DELIVERY_CREDIT = "delivery_credit"


class RecoveryRemedy(_Model):
    """The remedy the brand's policy gives for one recovery trigger, in the brand's words."""

    remedy: RemedyKind
    problem: str = Field(
        min_length=8,
        max_length=80,
        pattern=r"^[a-z][a-z ,']*[a-z]$",
        description="What went wrong, continuing 'We are sorry that ...', such as 'your "
        "order reached you later than we promised'. Lower-case letters only.",
    )
    text: str = Field(
        min_length=20,
        max_length=160,
        description="The remedy as one or two sentences the message states verbatim.",
    )

    @field_validator("text")
    @classmethod
    def _no_digits(cls, text: str) -> str:
        if any(char.isdigit() for char in text):
            raise ValueError(f"{text!r} contains a number; write the remedy without numbers")
        return text


class ReferralPolicy(_Model):
    """Referral invitations: the advocate threshold and the link the sending platform fills."""

    min_advocate_score: int = Field(ge=0, le=100, description="Advocate score from 0 to 100.")
    min_coverage: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Share of the advocate score's weight that must come from data, so that "
        "repeat orders alone do not make an advocate.",
    )
    link: str = Field(
        default="{{referral_link}}",
        pattern=r"^\{\{[a-z_]+\}\}$",
        description="Placeholder the sending platform fills with the customer's referral link.",
    )
    ugc_min_rating: int | None = Field(
        default=4,
        ge=1,
        le=5,
        description="Advocates whose latest review has at least this rating are asked for a "
        "photo or video instead of a referral; null never asks.",
    )


class ProductFamily(_Model):
    family_id: str
    name: str
    keywords: list[str] = Field(
        description="Upper-case words matched against product descriptions."
    )
    usage_window_days: int = Field(ge=0)
    tips: list[str] = Field(default_factory=list)


class QuietHours(_Model):
    """Local hours in the customer's time zone in which a message waits, such as 21:00-08:00.

    An `end` before `start` makes the window run overnight.
    """

    start: time = Field(default=time(21, 0), description="Local time quiet hours begin, 'HH:MM'.")
    end: time = Field(default=time(8, 0), description="Local time quiet hours end, 'HH:MM'.")
    transactional: bool = Field(
        default=False, description="True to hold transactional messages too, not only marketing."
    )

    @field_validator("start", "end", mode="before")
    @classmethod
    def _reject_sexagesimal(cls, value: object) -> object:
        # YAML 1.1 reads an unquoted 21:00 as the base-60 number 1260.
        if isinstance(value, int) and not isinstance(value, bool):
            raise ValueError(
                f"{value} is a number, not a time. Quote the time in YAML, such as '21:00'"
            )
        return value

    @model_validator(mode="after")
    def _start_differs_from_end(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError(
                "`start` equals `end`, which leaves no quiet hours. Set the quiet hours to "
                "null to turn them off"
            )
        return self


class FrequencyCap(_Model):
    """At most `max_messages` of one message class on one channel within `window_hours`."""

    channel: Channel
    message_class: MessageClass = MessageClass.MARKETING
    max_messages: int = Field(default=1, ge=1)
    window_hours: float = Field(gt=0)


def default_frequency_caps() -> list[FrequencyCap]:
    """Return the default caps: one marketing email per 16 hours, one marketing SMS per 24."""
    return [
        FrequencyCap(channel=Channel.EMAIL, window_hours=16),
        FrequencyCap(channel=Channel.SMS, window_hours=24),
    ]


def default_max_exclamations() -> dict[Channel, int]:
    return {Channel.EMAIL: 1, Channel.SMS: 0}


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
    recovery_remedies: dict[RecoveryTrigger, RecoveryRemedy] = Field(
        default_factory=dict, description="The remedy of each service-recovery trigger."
    )
    referral: ReferralPolicy | None = Field(
        default=None, description="Referral invitations; null when the brand sends none."
    )
    families: list[ProductFamily] = Field(default_factory=list)
    approved_copy: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Fallback fields per '<kind>' or '<kind>/<channel>' key.",
    )
    # Sending schedule.
    quiet_hours: QuietHours | None = Field(
        default_factory=QuietHours,
        description="Local hours in which marketing waits, on every channel, or null for none.",
    )
    channel_quiet_hours: dict[Channel, QuietHours | None] = Field(
        default_factory=dict, description="Quiet hours of one channel, replacing quiet_hours."
    )
    frequency_caps: list[FrequencyCap] = Field(default_factory=default_frequency_caps)
    # Policy facts that promises in a message must match.
    returns_window_days: int | None = Field(
        default=None, ge=0, description="Days after delivery in which a return is accepted."
    )
    free_returns: bool = False
    guarantee: str | None = Field(
        default=None, description="The guarantee as the brand words it, or null for none."
    )
    free_delivery_threshold: Decimal | None = Field(
        default=None, ge=0, description="Order value from which delivery is free, or null."
    )
    next_day_delivery: bool = False
    offer_codes: list[str] = Field(
        default_factory=list, description="Discount codes a message may contain verbatim."
    )
    # Voice limits.
    max_exclamations: dict[Channel, int] = Field(
        default_factory=default_max_exclamations,
        description="Maximum exclamation marks in one message's fields, per channel.",
    )
    field_max_exclamations: dict[str, int] = Field(
        default_factory=dict, description="Maximum exclamation marks per field name."
    )
    allowed_acronyms: list[str] = Field(
        default_factory=lambda: ["UK", "EU", "US", "USA", "FAQ", "OK"],
        description="Upper-case words that are not shouting, beyond the brand's own names.",
    )
    min_reading_ease: float | None = Field(
        default=50.0, description="Minimum Flesch reading ease of a field, or null for none."
    )
    max_reading_grade: float | None = Field(
        default=None, description="Maximum Flesch-Kincaid grade of a field, or null for none."
    )
    field_max_chars: dict[str, int] = Field(
        default_factory=dict,
        description="Character limits per '<field>' or '<channel>/<field>' key.",
    )

    @field_validator("field_max_chars", "field_max_exclamations")
    @classmethod
    def _check_limit_keys(cls, limits: dict[str, int]) -> dict[str, int]:
        for key, limit in limits.items():
            channel, _, field = key.rpartition("/")
            if channel and channel not in {c.value for c in Channel}:
                raise ValueError(f"{key!r}: {channel!r} is not a channel. Use email or sms")
            if not field:
                raise ValueError(f"{key!r} names no field. Use '<field>' or '<channel>/<field>'")
            if limit < 0:
                raise ValueError(f"{key!r}: the limit {limit} must be 0 or more")
        return limits


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
