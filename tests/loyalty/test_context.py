"""`ContextStore.load` fills `context.loyalty` from the stored ledger, or leaves it None."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, delete

from agent.context.store import ContextStore
from agent.domain import BrandProfile, CustomerContext
from agent.loyalty.derive import derive_ledger
from agent.loyalty.program import ProgramFile
from agent.loyalty.tables import LoyaltyProgramRecord
from tests.loyalty.conftest import EXTRACT_AS_OF

BRAND = "hearth-and-holly"


def test_loyalty_is_none_without_ledger(extract_engine: Engine, brand: BrandProfile) -> None:
    context = ContextStore(extract_engine).load("12680", as_of=EXTRACT_AS_OF, brand=brand)

    assert context.loyalty is None


def test_loyalty_is_none_for_other_brand(
    extract_engine: Engine, program_file: ProgramFile, brand: BrandProfile
) -> None:
    derive_ledger(extract_engine, brand=BRAND, program_file=program_file, as_of=EXTRACT_AS_OF)
    other = brand.model_copy(update={"brand_id": "linen-and-lark"})

    context = ContextStore(extract_engine).load("12680", as_of=EXTRACT_AS_OF, brand=other)

    assert context.loyalty is None


def test_loyalty_is_none_without_stored_programme(
    extract_engine: Engine, program_file: ProgramFile, brand: BrandProfile
) -> None:
    derive_ledger(extract_engine, brand=BRAND, program_file=program_file, as_of=EXTRACT_AS_OF)
    with extract_engine.begin() as conn:
        conn.execute(delete(LoyaltyProgramRecord))

    context = ContextStore(extract_engine).load("12680", as_of=EXTRACT_AS_OF, brand=brand)

    assert context.loyalty is None


def test_context_carries_account(
    extract_engine: Engine, program_file: ProgramFile, brand: BrandProfile
) -> None:
    derive_ledger(extract_engine, brand=BRAND, program_file=program_file, as_of=EXTRACT_AS_OF)

    context = ContextStore(extract_engine).load("12680", as_of=EXTRACT_AS_OF, brand=brand)

    account = context.loyalty
    assert account is not None
    assert account.brand == BRAND
    assert account.as_of == EXTRACT_AS_OF
    assert account.balance == sum(lot.remaining for lot in account.lots)
    assert len(account.history) == len(context.orders)
    bought = {line.family for order in context.orders for line in order.lines if line.family}
    for reward in account.eligible_rewards:
        assert reward.points_cost <= account.balance
        assert reward.family is None or reward.family in bought
    # The context round-trips through JSON, as inline API contexts do.
    assert CustomerContext.model_validate_json(context.model_dump_json()) == context


def test_earlier_as_of_sees_fewer_points(
    extract_engine: Engine, program_file: ProgramFile, brand: BrandProfile
) -> None:
    derive_ledger(extract_engine, brand=BRAND, program_file=program_file, as_of=EXTRACT_AS_OF)
    store = ContextStore(extract_engine)
    early = datetime(2011, 9, 1, tzinfo=UTC)

    late_account = store.load("12680", as_of=EXTRACT_AS_OF, brand=brand).loyalty
    early_account = store.load("12680", as_of=early, brand=brand).loyalty

    assert late_account is not None
    assert early_account is not None
    assert all(line.at <= early for line in early_account.history)
    assert early_account.balance < late_account.balance
