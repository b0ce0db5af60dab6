"""Pydantic models of loyalty programmes, ledger entries and customer loyalty accounts.

This module imports nothing from the rest of the package, so `agent.domain` can use
`LoyaltyAccount` in `CustomerContext` without an import cycle.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

# Lower-case letters, digits and inner hyphens, as brand and document ids are written.
ID_PATTERN = r"^[a-z0-9][a-z0-9-]*[a-z0-9]$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- the programme file -----------------------------------------------------------------


class Tier(_Model):
    """One tier of a programme, reached with `min_points` qualifying points."""

    tier_id: str = Field(pattern=ID_PATTERN, max_length=64)
    name: str = Field(min_length=1, max_length=60)
    min_points: int = Field(ge=0, description="Qualifying points needed to reach the tier.")
    benefits: list[str] = Field(default_factory=list)


class EarnRule(_Model):
    """Points earned per unit of currency spent, rounded down to whole points per order."""

    points_per_unit: Decimal = Field(gt=0, description="Points per 1 unit of `currency`.")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, such as GBP.")

    def points_for(self, amount: Decimal) -> int:
        """Return the whole points earned on `amount`; a negative amount gives negative points."""
        points = int((abs(amount) * self.points_per_unit).to_integral_value(rounding="ROUND_FLOOR"))
        return -points if amount < 0 else points


class ChallengeRule(_Model):
    """Order counts of "N more orders this quarter" challenges, chosen by value and risk only.

    `agent.loyalty.challenges.challenge_size` applies the rule.
    """

    base_orders: int = Field(default=2, ge=1, description="Orders asked of most customers.")
    high_risk_min_churn: float = Field(
        default=0.7, gt=0, le=1, description="Churn risk from which a customer is at high risk."
    )
    high_risk_orders: int = Field(default=1, ge=1, description="Orders asked at high risk.")
    high_value_min: float = Field(
        default=1000.0,
        ge=0,
        description="Predicted 12-month value, in the earn currency, from which a customer is "
        "high value.",
    )
    high_value_orders: int = Field(
        default=3, ge=1, description="Orders asked of high-value customers not at high risk."
    )


class Reward(_Model):
    """A reward of the catalogue; it may be offered only from `valid_from` to `valid_until`."""

    reward_id: str = Field(pattern=ID_PATTERN, max_length=64)
    name: str = Field(min_length=1, max_length=120)
    points_cost: int = Field(gt=0)
    family: str | None = Field(
        default=None,
        description="Product family id the reward suits; null when it suits every customer.",
    )
    valid_from: date
    valid_until: date | None = Field(
        default=None, description="Last day the reward may be offered; null for no end."
    )

    @model_validator(mode="after")
    def _ends_after_start(self) -> Reward:
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError(
                f"`valid_until` {self.valid_until} is before `valid_from` {self.valid_from}"
            )
        return self

    def available_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


class LoyaltyProgram(_Model):
    """A brand's loyalty programme, read from `kb/<brand>/loyalty.yaml`."""

    name: str = Field(min_length=1, max_length=80)
    earn: EarnRule
    points_expiry_months: int | None = Field(
        default=12, ge=1, description="Months after earning at which points expire; null: never."
    )
    tier_window_months: int | None = Field(
        default=12,
        ge=1,
        description="Months of earned points that count toward a tier; null counts every month.",
    )
    expiry_warning_days: int = Field(
        default=30, ge=1, description="Days ahead in which expiring points are listed."
    )
    tiers: list[Tier] = Field(min_length=1)
    rewards: list[Reward] = Field(default_factory=list)
    challenge: ChallengeRule = Field(default_factory=ChallengeRule)

    @field_validator("tiers")
    @classmethod
    def _check_tiers(cls, tiers: list[Tier]) -> list[Tier]:
        if tiers[0].min_points != 0:
            raise ValueError(
                f"the first tier {tiers[0].tier_id!r} has min_points {tiers[0].min_points}; "
                "it must be 0 so that every member has a tier"
            )
        for lower, upper in zip(tiers, tiers[1:], strict=False):
            if upper.min_points <= lower.min_points:
                raise ValueError(
                    f"tier {upper.tier_id!r} has min_points {upper.min_points}, not above "
                    f"{lower.min_points} of {lower.tier_id!r}; list tiers from lowest to highest"
                )
        _reject_duplicates([tier.tier_id for tier in tiers], "tier_id")
        return tiers

    @field_validator("rewards")
    @classmethod
    def _check_rewards(cls, rewards: list[Reward]) -> list[Reward]:
        _reject_duplicates([reward.reward_id for reward in rewards], "reward_id")
        return rewards

    def tier(self, tier_id: str) -> Tier | None:
        return next((tier for tier in self.tiers if tier.tier_id == tier_id), None)

    def tier_rank(self, tier_id: str) -> int:
        return [tier.tier_id for tier in self.tiers].index(tier_id)

    def tier_for_points(self, points: int) -> Tier:
        """Return the highest tier whose `min_points` is at most `points`."""
        return [tier for tier in self.tiers if tier.min_points <= max(points, 0)][-1]


def _reject_duplicates(ids: list[str], name: str) -> None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            raise ValueError(f"{name} {value!r} is used twice; give each one a unique id")
        seen.add(value)


# --- ledger entries -----------------------------------------------------------------------


class LedgerEntryType(StrEnum):
    EARNED = "earned"
    REDEEMED = "redeemed"
    ADJUSTED = "adjusted"
    TIER_CHANGE = "tier_change"


class LedgerSource(StrEnum):
    IMPORTED = "imported"  # a ledger file from the loyalty platform
    EVENT = "event"  # an event posted to the API
    DERIVED = "derived"  # computed from orders by the earn rule; not a real ledger


class LedgerEntry(_Model):
    """One line of a customer's points ledger.

    `points` is the amount earned or redeemed (above 0), the signed change of an
    adjustment (not 0), or 0 for a tier change, which names its tier in `tier`.
    """

    customer_id: str = Field(min_length=1, max_length=64)
    type: LedgerEntryType
    points: int = 0
    at: AwareDatetime
    reference: str = Field(min_length=1, max_length=128, description="Id of the entry's cause.")
    tier: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _check_points(self) -> LedgerEntry:
        kind = self.type
        if kind in (LedgerEntryType.EARNED, LedgerEntryType.REDEEMED) and self.points <= 0:
            raise ValueError(
                f"`points` is {self.points} but a {kind.value} entry needs a positive amount; "
                "a redemption is written as a positive number of points taken off"
            )
        if kind is LedgerEntryType.ADJUSTED and self.points == 0:
            raise ValueError("`points` is 0 but an adjustment must change the balance")
        if kind is LedgerEntryType.TIER_CHANGE:
            if self.points != 0:
                raise ValueError(f"`points` is {self.points} but a tier_change carries 0 points")
            if not self.tier:
                raise ValueError("`tier` is empty but a tier_change entry must name its tier")
        elif self.tier:
            raise ValueError(f"`tier` is {self.tier!r} but only tier_change entries name a tier")
        return self

    @property
    def change(self) -> int:
        """The entry's effect on the balance: negative for redemptions."""
        return -self.points if self.type is LedgerEntryType.REDEEMED else self.points


class LoyaltyEvent(LedgerEntry):
    """A points or tier event posted by the CRM; a repeat with the same `event_id` is ignored."""

    event_id: str = Field(min_length=1, max_length=128)
    brand: str = Field(pattern=ID_PATTERN, max_length=64)


# --- a customer's account -------------------------------------------------------------------


class LedgerLine(_Model):
    """One entry of an account's history, as stored."""

    type: LedgerEntryType
    points: int
    at: AwareDatetime
    reference: str
    tier: str | None = None
    source: LedgerSource


class PointsLot(_Model):
    """Points earned together; they expire together at `expires_at`."""

    earned_at: AwareDatetime
    expires_at: AwareDatetime | None = Field(description="None when points never expire.")
    points: int = Field(gt=0, description="Points the lot started with.")
    remaining: int = Field(ge=0, description="Points left after redemptions as of the account.")


class ExpiringPoints(_Model):
    expires_at: AwareDatetime
    points: int = Field(gt=0)


class EligibleReward(_Model):
    reward_id: str
    name: str
    points_cost: int = Field(gt=0)
    family: str | None = None
    valid_until: date | None = None


class LoyaltyAccount(_Model):
    """A customer's points and tier in one brand's programme as of `as_of`.

    Every number comes from the stored ledger; a customer without ledger entries has no
    account, and the context's `loyalty` is None.
    """

    brand: str
    program: str = Field(description="The programme's name.")
    as_of: AwareDatetime
    derived: bool = Field(
        description="True when the entries were derived from orders by the earn rule; such a "
        "balance is an estimate, not the loyalty platform's ledger."
    )
    balance: int = Field(ge=0, description="Points that can be spent at `as_of`.")
    tier: str
    tier_name: str
    qualifying_points: int = Field(ge=0, description="Points counting toward the tier.")
    tier_window_months: int | None = None
    next_tier: str | None = None
    next_tier_name: str | None = None
    points_to_next_tier: int | None = Field(
        default=None, gt=0, description="Qualifying points still needed for `next_tier`."
    )
    lots: list[PointsLot] = Field(
        default_factory=list, description="Lots with points left, the soonest to expire first."
    )
    expiring: list[ExpiringPoints] = Field(
        default_factory=list, description="Points expiring within `expiring_window_days`."
    )
    expiring_window_days: int = Field(default=30, ge=1)
    expired_points: int = Field(default=0, ge=0, description="Points that expired unspent.")
    unmatched_debit: int = Field(
        default=0,
        ge=0,
        description="Points redeemed or removed beyond the balance at the time; 0 in a "
        "consistent ledger.",
    )
    eligible_rewards: list[EligibleReward] = Field(default_factory=list)
    history: list[LedgerLine] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_consistency(self) -> LoyaltyAccount:
        if self.lots and sum(lot.remaining for lot in self.lots) != self.balance:
            raise ValueError("`balance` differs from the points remaining in `lots`")
        if (self.next_tier is None) != (self.points_to_next_tier is None):
            raise ValueError("`next_tier` and `points_to_next_tier` must be given together")
        today = self.as_of.date()
        for reward in self.eligible_rewards:
            if reward.points_cost > self.balance:
                raise ValueError(
                    f"reward {reward.reward_id!r} costs {reward.points_cost} points, more than "
                    f"the balance of {self.balance}, so it is not eligible"
                )
            if reward.valid_until is not None and reward.valid_until < today:
                raise ValueError(
                    f"reward {reward.reward_id!r} expired on {reward.valid_until}, before "
                    f"`as_of` {today}, so it is not eligible"
                )
        return self

    def expiring_within(self, days: int) -> list[ExpiringPoints]:
        """Return the points that expire within `days` days after `as_of`, by expiry time."""
        if days < 0:
            raise ValueError(f"days must be 0 or more, got {days}")
        return expiring_points(self.lots, self.as_of, self.as_of + timedelta(days=days))


def expiring_points(
    lots: list[PointsLot], after: datetime, until: datetime
) -> list[ExpiringPoints]:
    """Sum the remaining points of `lots` by expiry time, for expiries in (after, until]."""
    totals: dict[datetime, int] = {}
    for lot in lots:
        if lot.remaining and lot.expires_at is not None and after < lot.expires_at <= until:
            totals[lot.expires_at] = totals.get(lot.expires_at, 0) + lot.remaining
    return [
        ExpiringPoints(expires_at=when, points=points) for when, points in sorted(totals.items())
    ]
