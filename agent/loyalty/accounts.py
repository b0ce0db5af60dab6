"""Build a customer's loyalty account by replaying the stored ledger up to `as_of`.

Earned points, and positive adjustments, form a lot that expires `points_expiry_months`
after it was earned. Redemptions and negative adjustments take points from the lots that
are still valid at that moment, the soonest to expire first. A debit larger than the
points available empties the lots and is counted in `unmatched_debit`, because a balance
never goes below 0.

The tier is the highest one whose `min_points` the qualifying points reach: earned points
and signed adjustments dated within the last `tier_window_months` months, whether or not
they were spent. A tier_change entry grants a tier; the account keeps the higher of the
granted tier and the one the points reach.
NOTE: a tier_change cannot demote a member below the tier their points reach.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session

from agent.domain import Order, OrderStatus
from agent.loyalty.models import (
    EligibleReward,
    LedgerEntryType,
    LedgerLine,
    LedgerSource,
    LoyaltyAccount,
    LoyaltyProgram,
    PointsLot,
    expiring_points,
)
from agent.loyalty.tables import LoyaltyEntryRecord, LoyaltyProgramRecord

# Entries at the same moment replay in this order, so that points earned with an order
# can pay for a redemption stamped at the same second.
_REPLAY_ORDER = {
    LedgerEntryType.EARNED: 0,
    LedgerEntryType.ADJUSTED: 1,
    LedgerEntryType.REDEEMED: 2,
    LedgerEntryType.TIER_CHANGE: 3,
}


@dataclass(frozen=True)
class StoredLedger:
    """A brand's programme and one customer's entries, as read from the database."""

    brand: str
    program: LoyaltyProgram
    entries: list[LedgerLine]


# --- reading -------------------------------------------------------------------------------

_ready_engines: weakref.WeakSet[Engine] = weakref.WeakSet()
_program_cache: dict[tuple[str, str], LoyaltyProgram] = {}


def _tables_exist(session: Session) -> bool:
    engine = session.get_bind().engine
    if engine in _ready_engines:
        return True
    found = inspect(session.connection()).has_table(LoyaltyEntryRecord.__tablename__)
    if found:
        _ready_engines.add(engine)
    return found


def stored_program(session: Session, brand: str) -> LoyaltyProgram | None:
    """Return the programme stored for `brand`, or None when none is stored."""
    if not _tables_exist(session):
        return None
    record = session.get(LoyaltyProgramRecord, brand)
    if record is None:
        return None
    key = (brand, record.sha256)
    if key not in _program_cache:
        _program_cache[key] = LoyaltyProgram.model_validate(record.program)
    return _program_cache[key]


def read_ledger(
    session: Session, customer_id: str, brand: str, as_of: datetime
) -> StoredLedger | None:
    """Return the customer's entries at or before `as_of` with the brand's programme.

    Returns None when the brand has no stored programme or the customer has no entries.
    """
    program = stored_program(session, brand)
    if program is None:
        return None
    statement = (
        select(LoyaltyEntryRecord)
        .where(
            LoyaltyEntryRecord.brand == brand,
            LoyaltyEntryRecord.customer_id == customer_id,
            LoyaltyEntryRecord.at <= as_of,
        )
        .order_by(LoyaltyEntryRecord.at, LoyaltyEntryRecord.id)
    )
    entries = [_to_line(record) for record in session.scalars(statement)]
    if not entries:
        return None
    return StoredLedger(brand, program, entries)


def _to_line(record: LoyaltyEntryRecord) -> LedgerLine:
    return LedgerLine(
        type=LedgerEntryType(record.type),
        points=record.points,
        at=record.at,
        reference=record.reference,
        tier=record.tier,
        source=LedgerSource(record.source),
    )


# --- replaying -----------------------------------------------------------------------------


@dataclass
class _Replay:
    lots: list[PointsLot]
    unmatched_debit: int
    granted_tier: str | None


def _expiry(program: LoyaltyProgram, earned_at: datetime) -> datetime | None:
    if program.points_expiry_months is None:
        return None
    return earned_at + relativedelta(months=program.points_expiry_months)


def _valid_at(lot: PointsLot, moment: datetime) -> bool:
    return lot.remaining > 0 and (lot.expires_at is None or lot.expires_at > moment)


def _debit(lots: list[PointsLot], points: int, moment: datetime) -> int:
    """Take `points` from the lots valid at `moment`, soonest expiry first; return the rest."""
    valid = [lot for lot in lots if _valid_at(lot, moment)]
    valid.sort(key=lambda lot: (lot.expires_at is None, lot.expires_at or lot.earned_at))
    for lot in valid:
        taken = min(lot.remaining, points)
        lot.remaining -= taken
        points -= taken
        if points == 0:
            break
    return points


def replay(program: LoyaltyProgram, entries: Iterable[LedgerLine]) -> _Replay:
    ordered = sorted(entries, key=lambda entry: (entry.at, _REPLAY_ORDER[entry.type]))
    state = _Replay(lots=[], unmatched_debit=0, granted_tier=None)
    for entry in ordered:
        change = -entry.points if entry.type is LedgerEntryType.REDEEMED else entry.points
        if entry.type is LedgerEntryType.TIER_CHANGE:
            state.granted_tier = entry.tier
        elif change > 0:
            lot = PointsLot(
                earned_at=entry.at,
                expires_at=_expiry(program, entry.at),
                points=change,
                remaining=change,
            )
            state.lots.append(lot)
        elif change < 0:
            state.unmatched_debit += _debit(state.lots, -change, entry.at)
    return state


def qualifying_points(
    program: LoyaltyProgram, entries: Iterable[LedgerLine], as_of: datetime
) -> int:
    """Sum earned points and signed adjustments within the tier window, floored at 0."""
    start = None
    if program.tier_window_months is not None:
        start = as_of - relativedelta(months=program.tier_window_months)
    total = 0
    for entry in entries:
        counts = entry.type in (LedgerEntryType.EARNED, LedgerEntryType.ADJUSTED)
        if counts and entry.at <= as_of and (start is None or entry.at > start):
            total += entry.points
    return max(total, 0)


def eligible_rewards(
    program: LoyaltyProgram, balance: int, families: set[str], as_of: datetime
) -> list[EligibleReward]:
    """Return the rewards that are affordable, valid on as_of's UTC date and fit the families.

    A reward without a family suits every customer; one with a family needs a purchase in it.
    """
    today = as_of.date()
    return [
        EligibleReward(
            reward_id=reward.reward_id,
            name=reward.name,
            points_cost=reward.points_cost,
            family=reward.family,
            valid_until=reward.valid_until,
        )
        for reward in program.rewards
        if reward.available_on(today)
        and reward.points_cost <= balance
        and (reward.family is None or reward.family in families)
    ]


def build_account(ledger: StoredLedger, as_of: datetime, families: set[str]) -> LoyaltyAccount:
    """Replay `ledger` up to `as_of`; `families` are the product families the customer bought."""
    program = ledger.program
    entries = [entry for entry in ledger.entries if entry.at <= as_of]
    state = replay(program, entries)
    live = [lot for lot in state.lots if _valid_at(lot, as_of)]
    live.sort(key=lambda lot: (lot.expires_at is None, lot.expires_at or lot.earned_at))
    balance = sum(lot.remaining for lot in live)
    expired = sum(lot.remaining for lot in state.lots if not _valid_at(lot, as_of))

    qualifying = qualifying_points(program, entries, as_of)
    tier = program.tier_for_points(qualifying)
    granted = program.tier(state.granted_tier) if state.granted_tier else None
    if granted is not None and program.tier_rank(granted.tier_id) > program.tier_rank(tier.tier_id):
        tier = granted
    rank = program.tier_rank(tier.tier_id)
    next_tier = program.tiers[rank + 1] if rank + 1 < len(program.tiers) else None
    warning_end = as_of + timedelta(days=program.expiry_warning_days)

    return LoyaltyAccount(
        brand=ledger.brand,
        program=program.name,
        as_of=as_of,
        derived=any(entry.source is LedgerSource.DERIVED for entry in entries),
        balance=balance,
        tier=tier.tier_id,
        tier_name=tier.name,
        qualifying_points=qualifying,
        tier_window_months=program.tier_window_months,
        next_tier=next_tier.tier_id if next_tier else None,
        next_tier_name=next_tier.name if next_tier else None,
        points_to_next_tier=next_tier.min_points - qualifying if next_tier else None,
        lots=live,
        expiring=expiring_points(live, as_of, warning_end),
        expiring_window_days=program.expiry_warning_days,
        expired_points=expired,
        unmatched_debit=state.unmatched_debit,
        eligible_rewards=eligible_rewards(program, balance, families, as_of),
        history=entries,
    )


def account_for(
    ledger: StoredLedger | None, as_of: datetime, orders: Iterable[Order]
) -> LoyaltyAccount | None:
    """Build the account of a loaded context; None when no ledger is stored for the customer."""
    if ledger is None:
        return None
    families = {
        line.family
        for order in orders
        if order.status is not OrderStatus.CANCELLED
        for line in order.lines
        if line.family
    }
    return build_account(ledger, as_of, families)
