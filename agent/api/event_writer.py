"""Apply CRM webhook events to the context tables, each at most once per event id.

The event, the rows it writes and its processed_events row commit in one transaction, so a
redelivered or concurrent duplicate changes nothing. Events may arrive in any order, so an
event for an unknown customer creates the customer with no profile fields.
NOTE: a late event overwrites newer state; out-of-order updates are not reconciled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, Table, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.api.events import (
    ConsentEvent,
    DeliveryEvent,
    LoyaltyPointsEvent,
    MessageSentEvent,
    OrderEvent,
    ReturnEvent,
    ReviewEvent,
    TicketEvent,
)
from agent.api.tables import DeliveryRecord, ProcessedEventRecord
from agent.context.tables import (
    CustomerRecord,
    OrderLineRecord,
    OrderRecord,
    ProductRecord,
    ReturnRecord,
    ReviewRecord,
    SentMessageRecord,
    TicketRecord,
)
from agent.domain import Channel, OrderStatus
from agent.loyalty.ledger import (
    LoyaltyEventRejected,
    LoyaltyProgramNotStored,
    write_loyalty_event,
)
from agent.loyalty.models import LoyaltyEvent

log = logging.getLogger(__name__)


class EventRejected(ValueError):
    """The event contradicts stored data, such as a delivery for an unknown order."""


def _insert_ignoring_existing(session: Session, table: Table, values: dict[str, Any]) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        statement: Any = sqlite.insert(table).on_conflict_do_nothing()
    elif dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    else:
        raise NotImplementedError(
            f"events cannot be stored in a {dialect} database; use SQLite or PostgreSQL"
        )
    session.execute(statement, values)


class EventWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._handlers: dict[type, Callable[[Session, Any], None]] = {
            OrderEvent: self._order,
            DeliveryEvent: self._delivery,
            TicketEvent: self._ticket,
            ReviewEvent: self._review,
            ReturnEvent: self._return,
            ConsentEvent: self._consent,
            MessageSentEvent: self._message_sent,
            LoyaltyPointsEvent: self._loyalty,
        }

    def apply(self, event: Any) -> bool:
        """Apply one event; return False when its id was processed before.

        Raises EventRejected when the event contradicts stored data.
        """
        try:
            with Session(self.engine) as session, session.begin():
                if session.get(ProcessedEventRecord, event.event_id) is not None:
                    return False
                self._ensure_customer(session, event.customer_id)
                self._handlers[type(event)](session, event)
                session.add(
                    ProcessedEventRecord(
                        event_id=event.event_id, type=event.type, processed_at=datetime.now(UTC)
                    )
                )
        except IntegrityError:
            # A concurrent delivery of the same event committed first.
            with Session(self.engine) as session:
                if session.get(ProcessedEventRecord, event.event_id) is not None:
                    return False
            raise
        log.info("applied %s event %s", event.type, event.event_id)
        return True

    @staticmethod
    def _ensure_customer(session: Session, customer_id: str) -> None:
        _insert_ignoring_existing(session, CustomerRecord.__table__, {"customer_id": customer_id})

    @staticmethod
    def _owned_order(session: Session, order_id: str, customer_id: str) -> OrderRecord | None:
        order = session.get(OrderRecord, order_id)
        if order is not None and order.customer_id != customer_id:
            raise EventRejected(
                f"order `{order_id}` belongs to another customer than `{customer_id}`; "
                "check the event's customer_id"
            )
        return order

    # --- one handler per event type -----------------------------------------------------

    def _order(self, session: Session, event: OrderEvent) -> None:
        if event.customer is not None:
            customer = session.get(CustomerRecord, event.customer_id)
            for name, value in event.customer.model_dump(exclude_none=True).items():
                setattr(customer, name, value)
        order = self._owned_order(session, event.order_id, event.customer_id)
        cancelled = event.status == "cancelled"
        if order is None:
            order = OrderRecord(order_id=event.order_id, customer_id=event.customer_id)
            session.add(order)
        order.placed_at = event.placed_at
        order.status = OrderStatus.CANCELLED if cancelled else OrderStatus.PLACED
        order.cancelled = cancelled
        for line in event.lines:
            _insert_ignoring_existing(
                session,
                ProductRecord.__table__,
                {"stock_code": line.stock_code, "description": line.description},
            )
        session.flush()
        session.execute(delete(OrderLineRecord).where(OrderLineRecord.order_id == event.order_id))
        session.add_all(
            OrderLineRecord(order_id=event.order_id, **line.model_dump()) for line in event.lines
        )

    def _delivery(self, session: Session, event: DeliveryEvent) -> None:
        if self._owned_order(session, event.order_id, event.customer_id) is None:
            raise EventRejected(
                f"order `{event.order_id}` is not stored; send its order event first, "
                "then this delivery event again"
            )
        delivery = session.get(DeliveryRecord, event.order_id)
        if delivery is None:
            delivery = DeliveryRecord(order_id=event.order_id)
            session.add(delivery)
        delivery.status = event.status
        delivery.carrier = event.carrier or delivery.carrier
        if event.status == "shipped":
            delivery.shipped_at = event.occurred_at
        else:
            delivery.delivered_at = event.occurred_at

    def _ticket(self, session: Session, event: TicketEvent) -> None:
        ticket = session.get(TicketRecord, event.ticket_id)
        if ticket is not None and ticket.customer_id != event.customer_id:
            raise EventRejected(
                f"ticket `{event.ticket_id}` belongs to another customer than "
                f"`{event.customer_id}`; check the event's customer_id"
            )
        if ticket is None:
            ticket = TicketRecord(ticket_id=event.ticket_id, customer_id=event.customer_id)
            session.add(ticket)
        ticket.status = event.status.value
        ticket.category = event.category
        ticket.subject = event.subject
        ticket.text = event.text
        ticket.opened_at = event.opened_at
        ticket.closed_at = event.closed_at

    def _review(self, session: Session, event: ReviewEvent) -> None:
        session.add(
            ReviewRecord(
                customer_id=event.customer_id,
                stock_code=event.stock_code,
                rating=event.rating,
                text=event.text,
                created_at=event.occurred_at,
            )
        )

    def _return(self, session: Session, event: ReturnEvent) -> None:
        self._owned_order(session, event.order_id, event.customer_id)
        session.add(
            ReturnRecord(
                customer_id=event.customer_id,
                order_id=event.order_id,
                stock_code=event.stock_code,
                reason=event.reason,
                created_at=event.occurred_at,
            )
        )

    def _consent(self, session: Session, event: ConsentEvent) -> None:
        customer = session.get(CustomerRecord, event.customer_id)
        if event.channel == Channel.EMAIL:
            customer.email_marketing = event.granted
        else:
            customer.sms_marketing = event.granted

    def _message_sent(self, session: Session, event: MessageSentEvent) -> None:
        session.add(
            SentMessageRecord(
                customer_id=event.customer_id,
                kind=event.kind.value,
                channel=event.channel.value,
                sent_at=event.occurred_at,
            )
        )

    @staticmethod
    def _loyalty(session: Session, event: LoyaltyPointsEvent) -> None:
        try:
            entry = LoyaltyEvent(
                event_id=event.event_id,
                brand=event.brand,
                customer_id=event.customer_id,
                type=event.entry,
                points=event.points,
                at=event.occurred_at,
                reference=event.reference,
                tier=event.tier,
            )
            write_loyalty_event(session, entry)
        except (ValidationError, LoyaltyProgramNotStored, LoyaltyEventRejected) as error:
            raise EventRejected(str(error)) from error
