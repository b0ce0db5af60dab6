"""`apply_loyalty_event`: idempotent points and tier events, with precise rejections."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from agent.context.store import ContextStore
from agent.domain import BrandProfile
from agent.loyalty.ledger import (
    LoyaltyEventRejected,
    LoyaltyProgramNotStored,
    apply_loyalty_event,
    store_program,
)
from agent.loyalty.models import LoyaltyEvent
from agent.loyalty.program import ProgramFile
from agent.loyalty.tables import LoyaltyEntryRecord

AS_OF = datetime(2011, 12, 1, tzinfo=UTC)


def event(**values: Any) -> LoyaltyEvent:
    defaults: dict[str, Any] = {
        "event_id": "evt-1",
        "brand": "hearth-and-holly",
        "customer_id": "20001",
        "type": "earned",
        "points": 300,
        "at": datetime(2011, 10, 1, 9, tzinfo=UTC),
        "reference": "order:900001",
    }
    return LoyaltyEvent(**(defaults | values))


@pytest.fixture
def stored(engine: Engine, program_file: ProgramFile) -> Engine:
    with engine.begin() as conn:
        store_program(conn, "hearth-and-holly", program_file)
    return engine


def _entries(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(LoyaltyEntryRecord))


def test_event_is_applied_once(stored: Engine, brand: BrandProfile) -> None:
    first = apply_loyalty_event(stored, event())
    repeat = apply_loyalty_event(stored, event())

    assert first is True
    assert repeat is False
    assert _entries(stored) == 1
    context = ContextStore(stored).load("20001", as_of=AS_OF, brand=brand)
    assert context.loyalty is not None
    assert context.loyalty.balance == 300


def test_redemption_within_balance(stored: Engine, brand: BrandProfile) -> None:
    apply_loyalty_event(stored, event())
    redeem = event(
        event_id="evt-2", type="redeemed", points=250, at=datetime(2011, 11, 1, tzinfo=UTC)
    )

    assert apply_loyalty_event(stored, redeem) is True

    context = ContextStore(stored).load("20001", as_of=AS_OF, brand=brand)
    assert context.loyalty is not None
    assert context.loyalty.balance == 50


def test_redemption_above_balance_is_rejected(stored: Engine) -> None:
    apply_loyalty_event(stored, event())
    redeem = event(
        event_id="evt-2", type="redeemed", points=301, at=datetime(2011, 11, 1, tzinfo=UTC)
    )

    with pytest.raises(
        LoyaltyEventRejected, match="redeems 301 points but customer `20001` has 300"
    ):
        apply_loyalty_event(stored, redeem)

    assert _entries(stored) == 1


def test_unknown_tier_is_rejected(stored: Engine) -> None:
    change = event(event_id="evt-3", type="tier_change", points=0, tier="gold")

    with pytest.raises(LoyaltyEventRejected, match="tier 'gold' of event `evt-3`"):
        apply_loyalty_event(stored, change)

    assert _entries(stored) == 0


def test_event_needs_stored_programme(engine: Engine) -> None:
    with pytest.raises(LoyaltyProgramNotStored, match="aftercare loyalty program --brand"):
        apply_loyalty_event(engine, event())
