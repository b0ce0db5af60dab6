"""CRM webhook events: one pydantic model per event type, distinguished by `type`.

Every event carries an `event_id` that makes redelivery harmless, the `customer_id` it
concerns and `occurred_at`, the moment the CRM recorded it (with a time zone).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from agent.api.fields import PRINTABLE, Identifier, Moment, ShortId, Text
from agent.domain import Channel, MessageKind, TicketStatus


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"{value!r} is not an IANA time zone, such as Europe/London") from error
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Event(_Strict):
    event_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=128,
            pattern=PRINTABLE,
            description="Unique per event; a repeat with the same id changes nothing.",
        ),
    ]
    occurred_at: Moment = Field(description="When the CRM recorded the event, with a time zone.")
    customer_id: Identifier


class CustomerProfile(_Strict):
    """Customer fields an order event may carry; omitted fields keep their stored values."""

    first_name: Annotated[Text, Field(max_length=60)] | None = None
    country: Annotated[Text, Field(max_length=60)] | None = None
    timezone: Annotated[str, Field(max_length=64), AfterValidator(_check_zone)] | None = Field(
        default=None, description="IANA time zone, such as Europe/London."
    )


class EventOrderLine(_Strict):
    stock_code: ShortId
    description: Annotated[Text, Field(min_length=1, max_length=200)]
    quantity: StrictInt = Field(ge=1, le=1_000_000)
    unit_price: Decimal = Field(ge=0, max_digits=10, decimal_places=2)


class OrderEvent(_Event):
    """An order placed or cancelled; a repeat for the same order replaces its lines."""

    type: Literal["order"]
    order_id: ShortId
    placed_at: Moment
    status: Literal["placed", "cancelled"] = "placed"
    lines: list[EventOrderLine] = Field(min_length=1, max_length=500)
    customer: CustomerProfile | None = None


class DeliveryEvent(_Event):
    """A carrier event for a stored order, at `occurred_at`."""

    type: Literal["delivery"]
    order_id: ShortId
    status: Literal["shipped", "delivered"]
    carrier: Annotated[Text, Field(max_length=64)] | None = None


class TicketEvent(_Event):
    """A support ticket opened or updated; a repeat for the same ticket replaces it."""

    type: Literal["ticket"]
    ticket_id: Identifier
    status: TicketStatus = TicketStatus.OPEN
    category: Annotated[Text, Field(max_length=32)] = Field(
        default="other", description="delivery, damaged, wrong_item, quality, billing or other."
    )
    subject: Annotated[Text, Field(max_length=200)] = ""
    text: Annotated[Text, Field(max_length=5000)] = ""
    opened_at: Moment
    closed_at: Moment | None = None


class ReviewEvent(_Event):
    """A product review the customer wrote at `occurred_at`."""

    type: Literal["review"]
    stock_code: ShortId | None = None
    rating: StrictInt = Field(ge=1, le=5)
    text: Annotated[Text, Field(max_length=5000)] = ""


class ReturnEvent(_Event):
    """A product return recorded at `occurred_at`."""

    type: Literal["return"]
    order_id: ShortId
    stock_code: ShortId | None = None
    reason: Annotated[Text, Field(max_length=500)] = ""


class ConsentEvent(_Event):
    """Marketing consent for one channel: true, false, or null when nothing is recorded."""

    type: Literal["consent"]
    channel: Channel
    granted: StrictBool | None


class MessageSentEvent(_Event):
    """A message the sending platform delivered at `occurred_at`, counted by frequency caps."""

    type: Literal["message_sent"]
    kind: MessageKind
    channel: Channel


class LoyaltyPointsEvent(_Event):
    """Points earned, redeemed or adjusted, or a tier change, in the brand's programme."""

    type: Literal["loyalty"]
    brand: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]
    entry: Literal["earned", "redeemed", "adjusted", "tier_change"]
    points: StrictInt = Field(
        default=0,
        ge=-10_000_000,
        le=10_000_000,
        description="Above 0 when earned or redeemed, signed for an adjustment, 0 for a tier.",
    )
    reference: Identifier = Field(description="Id of the entry's cause, such as an order id.")
    tier: Annotated[Text, Field(max_length=64)] | None = None


CrmEvent = Annotated[
    OrderEvent
    | DeliveryEvent
    | TicketEvent
    | ReviewEvent
    | ReturnEvent
    | ConsentEvent
    | MessageSentEvent
    | LoyaltyPointsEvent,
    Field(discriminator="type"),
]


class EventReceipt(BaseModel):
    event_id: str
    type: str
    duplicate: bool = Field(description="True when the event id was processed before.")
