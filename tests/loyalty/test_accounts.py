"""Loyalty accounts replayed from ledger lines: lots, expiry, tiers and eligible rewards."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from agent.loyalty.accounts import StoredLedger, build_account
from agent.loyalty.models import (
    EligibleReward,
    LedgerEntry,
    LedgerEntryType,
    LedgerLine,
    LedgerSource,
    LoyaltyAccount,
    LoyaltyProgram,
)
from agent.loyalty.program import ProgramFile

AS_OF = datetime(2011, 12, 9, 13, 0, tzinfo=UTC)
EVERY_FAMILY = {
    "candles-and-lighting",
    "kitchen-and-baking",
    "christmas-decorations",
    "textiles-and-warmers",
    "party-and-celebration",
}


def line(
    type: str = "earned",
    points: int = 100,
    at: datetime = datetime(2011, 6, 1, 10, tzinfo=UTC),
    reference: str = "order:1",
    tier: str | None = None,
    source: LedgerSource = LedgerSource.IMPORTED,
) -> LedgerLine:
    return LedgerLine(
        type=LedgerEntryType(type),
        points=points,
        at=at,
        reference=reference,
        tier=tier,
        source=source,
    )


def account(
    program: LoyaltyProgram,
    lines: list[LedgerLine],
    *,
    as_of: datetime = AS_OF,
    families: set[str] | None = None,
) -> LoyaltyAccount:
    ledger = StoredLedger("hearth-and-holly", program, lines)
    return build_account(ledger, as_of, EVERY_FAMILY if families is None else families)


@pytest.fixture
def program(program_file: ProgramFile) -> LoyaltyProgram:
    return program_file.program


def test_balance_sums_earned_less_redeemed(program: LoyaltyProgram) -> None:
    lines = [
        line(points=300, reference="order:1"),
        line(points=250, at=datetime(2011, 7, 1, tzinfo=UTC), reference="order:2"),
        line("redeemed", 120, at=datetime(2011, 8, 1, tzinfo=UTC), reference="reward:1"),
    ]

    result = account(program, lines)

    assert result.balance == 430
    assert result.derived is False
    assert [lot.remaining for lot in result.lots] == [180, 250]


def test_redemption_spends_soonest_expiring_lot(program: LoyaltyProgram) -> None:
    lines = [
        line(points=100, at=datetime(2011, 2, 1, tzinfo=UTC), reference="order:1"),
        line(points=100, at=datetime(2011, 5, 1, tzinfo=UTC), reference="order:2"),
        line("redeemed", 150, at=datetime(2011, 6, 1, tzinfo=UTC), reference="reward:1"),
    ]

    result = account(program, lines)

    assert [(lot.earned_at.month, lot.remaining) for lot in result.lots] == [(5, 50)]


def test_points_expire_twelve_months_after_earning(program: LoyaltyProgram) -> None:
    earned_at = datetime(2010, 12, 20, 9, 0, tzinfo=UTC)
    lines = [line(points=400, at=earned_at), line(points=50, reference="order:2")]

    before = account(program, lines, as_of=datetime(2011, 12, 20, 8, 59, tzinfo=UTC))
    after = account(program, lines, as_of=datetime(2011, 12, 20, 9, 0, tzinfo=UTC))

    assert before.balance == 450
    assert after.balance == 50
    assert after.expired_points == 400


def test_expiring_within_reports_points_and_date(program: LoyaltyProgram) -> None:
    lines = [
        line(points=400, at=datetime(2010, 12, 20, 9, 0, tzinfo=UTC), reference="order:1"),
        line(points=70, at=datetime(2010, 12, 30, 9, 0, tzinfo=UTC), reference="order:2"),
        line(points=50, at=datetime(2011, 6, 1, tzinfo=UTC), reference="order:3"),
        line("redeemed", 100, at=datetime(2011, 3, 1, tzinfo=UTC), reference="reward:1"),
    ]

    result = account(program, lines)

    assert [(e.expires_at.date(), e.points) for e in result.expiring] == [
        (date(2011, 12, 20), 300),
        (date(2011, 12, 30), 70),
    ]
    assert result.expiring_window_days == 30
    assert [e.points for e in result.expiring_within(15)] == [300]
    assert result.expiring_within(0) == []


def test_tier_gap_is_exact(program: LoyaltyProgram) -> None:
    lines = [
        line(points=420, reference="order:1"),
        line(points=35, at=datetime(2011, 9, 1, tzinfo=UTC), reference="order:2"),
        line("redeemed", 300, at=datetime(2011, 10, 1, tzinfo=UTC), reference="reward:1"),
    ]

    result = account(program, lines)

    # Redeemed points still count toward the tier: 420 + 35 qualifying points.
    assert result.qualifying_points == 455
    assert result.tier == "sprig"
    assert result.next_tier == "holly"
    assert result.points_to_next_tier == 500 - 455
    assert result.balance == 155


def test_tier_counts_last_twelve_months_only(program: LoyaltyProgram) -> None:
    lines = [
        line(points=1500, at=datetime(2010, 12, 1, tzinfo=UTC), reference="order:1"),
        line(points=600, at=datetime(2011, 1, 10, tzinfo=UTC), reference="order:2"),
    ]

    result = account(program, lines)

    assert result.qualifying_points == 600
    assert result.tier == "holly"
    assert result.points_to_next_tier == 1400


def test_top_tier_has_no_next_tier(program: LoyaltyProgram) -> None:
    result = account(program, [line(points=12_000)])

    assert result.tier == "hearth-circle"
    assert result.next_tier is None
    assert result.points_to_next_tier is None


def test_tier_change_grants_higher_tier(program: LoyaltyProgram) -> None:
    lines = [
        line(points=100),
        line(
            "tier_change",
            0,
            at=datetime(2011, 7, 1, tzinfo=UTC),
            reference="crm:1",
            tier="evergreen",
        ),
    ]

    result = account(program, lines)

    assert result.tier == "evergreen"
    assert result.next_tier == "hearth-circle"
    assert result.points_to_next_tier == 10_000 - 100


def test_negative_adjustment_beyond_balance_is_counted(program: LoyaltyProgram) -> None:
    lines = [
        line(points=80),
        line("adjusted", -200, at=datetime(2011, 7, 1, tzinfo=UTC), reference="c:1"),
    ]

    result = account(program, lines)

    assert result.balance == 0
    assert result.unmatched_debit == 120
    assert result.qualifying_points == 0


def test_entries_after_as_of_are_ignored(program: LoyaltyProgram) -> None:
    lines = [line(points=100), line(points=900, at=AS_OF + timedelta(seconds=1), reference="o:2")]

    assert account(program, lines).balance == 100


def test_expired_rewards_are_never_eligible(program: LoyaltyProgram) -> None:
    rich = [line(points=5_000, at=datetime(2011, 11, 1, tzinfo=UTC))]

    in_season = account(program, rich, as_of=datetime(2011, 12, 24, 23, 0, tzinfo=UTC))
    after_season = account(program, rich, as_of=datetime(2011, 12, 25, 0, 0, tzinfo=UTC))

    assert "painted-bauble" in {r.reward_id for r in in_season.eligible_rewards}
    assert "painted-bauble" not in {r.reward_id for r in after_season.eligible_rewards}
    # The bunting ended on 2011-08-31, so no as_of after it ever offers it.
    assert "garden-bunting" not in {r.reward_id for r in in_season.eligible_rewards}
    for reward in after_season.eligible_rewards:
        assert reward.valid_until is None or reward.valid_until >= date(2011, 12, 25)


def test_reward_not_yet_valid_is_not_eligible(program: LoyaltyProgram) -> None:
    rich = [line(points=5_000, at=datetime(2011, 6, 1, tzinfo=UTC))]

    result = account(program, rich, as_of=datetime(2011, 8, 31, 12, tzinfo=UTC))

    assert "hot-water-bottle" not in {r.reward_id for r in result.eligible_rewards}
    assert "garden-bunting" in {r.reward_id for r in result.eligible_rewards}


def test_rewards_must_be_affordable(program: LoyaltyProgram) -> None:
    result = account(program, [line(points=260)])

    assert {r.reward_id for r in result.eligible_rewards} == {"gift-wrap", "tea-light-box"}


def test_rewards_follow_purchase_history(program: LoyaltyProgram) -> None:
    result = account(program, [line(points=2_000)], families={"kitchen-and-baking"})

    assert {r.reward_id for r in result.eligible_rewards} == {"gift-wrap", "cake-stand"}


def test_account_rejects_expired_eligible_reward() -> None:
    with pytest.raises(ValidationError, match="expired on 2011-08-31"):
        LoyaltyAccount(
            brand="hearth-and-holly",
            program="Club",
            as_of=AS_OF,
            derived=False,
            balance=500,
            tier="sprig",
            tier_name="Sprig",
            qualifying_points=500,
            eligible_rewards=[
                EligibleReward(
                    reward_id="garden-bunting",
                    name="Bunting",
                    points_cost=400,
                    valid_until=date(2011, 8, 31),
                )
            ],
        )


def test_account_rejects_unaffordable_reward() -> None:
    with pytest.raises(ValidationError, match="more than the balance of 100"):
        LoyaltyAccount(
            brand="hearth-and-holly",
            program="Club",
            as_of=AS_OF,
            derived=False,
            balance=100,
            tier="sprig",
            tier_name="Sprig",
            qualifying_points=100,
            eligible_rewards=[EligibleReward(reward_id="cake", name="Cake", points_cost=400)],
        )


@pytest.mark.parametrize(
    ("type", "points", "tier", "message"),
    [
        ("earned", 0, None, "needs a positive amount"),
        ("redeemed", -50, None, "written as a positive number"),
        ("adjusted", 0, None, "must change the balance"),
        ("tier_change", 0, None, "must name its tier"),
        ("tier_change", 10, "holly", "carries 0 points"),
        ("earned", 10, "holly", "only tier_change entries name a tier"),
    ],
)
def test_ledger_entry_rejects_inconsistent_points(
    type: str, points: int, tier: str | None, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        LedgerEntry(customer_id="1", type=type, points=points, at=AS_OF, reference="r", tier=tier)
