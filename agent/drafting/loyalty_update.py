"""The situation of a loyalty update: which points, tier, reward and challenge it states.

Every number comes from the customer's loyalty account (`context.loyalty`) or from
`challenge_size`, and only the template writes it, so grounding.numbers finds each one among
the account's figures. Without an account the update states no balance and no tier.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from agent.domain import BrandProfile, CustomerContext, Finding, OrderStatus
from agent.drafting.render import format_date
from agent.drafting.situation import DetailLine, Situation, ineligible, warning
from agent.loyalty.challenges import challenge_size
from agent.loyalty.models import EligibleReward, ExpiringPoints, LoyaltyAccount, LoyaltyProgram
from agent.signals.store import CustomerSignals

# A next tier is within reach when the points still needed are at most this share of the
# points the tier needs, such as 400 of 2,000.
TIER_REACH_SHARE = 0.25
BALANCE = "Your balance"
CHALLENGE = "Your challenge"
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


def loyalty_situation(
    context: CustomerContext,
    brand: BrandProfile,
    as_of: datetime,
    signals: CustomerSignals | None,
    program: LoyaltyProgram | None,
) -> Situation:
    """Build the update from the account and the challenge, or an ineligible situation when
    neither has news."""
    account = context.loyalty
    orders = challenge_orders(signals, program)
    if account is None:
        return _without_account(context, brand, orders)
    lines = account_lines(account, context, brand, as_of)
    if orders is not None:
        lines.append(_challenge_line(orders))
    if all(line.label == BALANCE for line in lines):
        return ineligible(
            "loyalty.nothing_to_say",
            f"customer `{context.customer_id}` has no points expiring, no tier within reach, "
            "no affordable reward and no challenge, so a loyalty update has nothing to say",
            "draft another kind, or send the update once points are about to expire",
        )
    findings = (_derived_warning(),) if account.derived else ()
    return Situation(
        prompt_facts={"Update": _update_summary(lines)},
        details=tuple(lines),
        sms_facts=_sms_facts(lines),
        cta_url=_points_url(brand),
        findings=findings,
    )


def account_lines(
    account: LoyaltyAccount, context: CustomerContext, brand: BrandProfile, as_of: datetime
) -> list[DetailLine]:
    """State the balance, then whatever of expiry, tier and reward applies."""
    lines = [DetailLine(f"{account.balance:,} points", BALANCE)] if account.balance else []
    expiring = soonest_expiry(account, as_of)
    if expiring is not None:
        when = format_date(expiring.expires_at.astimezone(ZoneInfo(brand.timezone)))
        lines.append(DetailLine(f"{expiring.points:,} points expire on {when}", "Expiring soon"))
    if tier_within_reach(account):
        gap = f"{account.points_to_next_tier:,} points"
        lines.append(DetailLine(f"{gap} to go until {account.next_tier_name}", "Next tier"))
    reward = choose_reward(account, context, as_of)
    if reward is not None:
        text = f"{reward.name}, for {reward.points_cost:,} points"
        lines.append(DetailLine(text, "A reward you can choose"))
    return lines


def soonest_expiry(account: LoyaltyAccount, as_of: datetime) -> ExpiringPoints | None:
    """Return the first lot of points that expires after `as_of` within the warning window."""
    upcoming = [item for item in account.expiring if item.expires_at > as_of]
    return min(upcoming, key=lambda item: item.expires_at, default=None)


def tier_within_reach(account: LoyaltyAccount) -> bool:
    gap = account.points_to_next_tier
    if gap is None or account.next_tier_name is None:
        return False
    return gap <= TIER_REACH_SHARE * (account.qualifying_points + gap)


def choose_reward(
    account: LoyaltyAccount, context: CustomerContext, as_of: datetime
) -> EligibleReward | None:
    """Choose the affordable, unexpired reward that suits the most-bought product family.

    Rewards for a family the customer bought most often win, then rewards for any customer,
    then the dearer reward, then the reward id, so reruns agree.
    """
    bought = Counter(
        line.family
        for order in context.orders
        if order.status is not OrderStatus.CANCELLED and order.placed_at <= as_of
        for line in order.lines
        if line.family
    )
    today = as_of.date()
    usable = [
        reward
        for reward in account.eligible_rewards
        if (reward.valid_until is None or reward.valid_until >= today)
        and reward.points_cost <= account.balance
        and (reward.family is None or reward.family in bought)
    ]
    return max(
        usable,
        key=lambda r: (bought.get(r.family, 0) if r.family else 0, r.points_cost, r.reward_id),
        default=None,
    )


def challenge_orders(signals: CustomerSignals | None, program: LoyaltyProgram | None) -> int | None:
    """Size the quarter's challenge from the predicted value and churn risk alone.

    Returns None without stored CLV signals or a programme, because a guessed size would be
    a number the context does not contain.
    """
    if signals is None or program is None:
        return None
    value, p_alive = signals.clv.predicted_clv, signals.clv.p_alive
    if value is None or p_alive is None or not math.isfinite(value) or value < 0:
        return None
    return challenge_size(value, 1 - p_alive, rule=program.challenge)


def _challenge_line(orders: int) -> DetailLine:
    count = NUMBER_WORDS.get(orders, str(orders))
    if orders == 1:
        return DetailLine(f"Place {count} order this quarter, and it earns points", CHALLENGE)
    return DetailLine(f"Place {count} orders this quarter, and each one earns points", CHALLENGE)


def _without_account(
    context: CustomerContext, brand: BrandProfile, orders: int | None
) -> Situation:
    message = (
        f"customer `{context.customer_id}` has no loyalty account for brand "
        f"`{brand.brand_id}`, so the update states no balance, tier or reward"
    )
    suggestion = (
        f"import the ledger with `aftercare loyalty import`, or estimate it with "
        f"`aftercare loyalty derive --brand {brand.brand_id}`"
    )
    if orders is None:
        return ineligible("loyalty.missing", f"{message}, and has no challenge", suggestion)
    line = _challenge_line(orders)
    return Situation(
        prompt_facts={"Update": "a challenge for this quarter"},
        details=(line,),
        sms_facts=f"{line.label}: {line.text}.",
        cta_url=_points_url(brand),
        findings=(warning("loyalty.missing", message, suggestion),),
    )


def _derived_warning() -> Finding:
    return warning(
        "loyalty.derived",
        "the points were derived from orders by the programme's earn rule, not read from the "
        "loyalty platform's ledger, so the balance is an estimate",
        "check the balance before sending, or import the platform's ledger with "
        "`aftercare loyalty import`",
    )


def _update_summary(lines: list[DetailLine]) -> str:
    """Summarise what the update covers without any number, for the prompt."""
    topics = {
        "Expiring soon": "some points expire soon",
        "Next tier": "the next tier is within reach",
        "A reward you can choose": "they can choose a reward",
        CHALLENGE: "a challenge for this quarter",
    }
    said = [topics[line.label] for line in lines if line.label in topics]
    return "; ".join(said) or "where their points stand"


def _sms_facts(lines: list[DetailLine]) -> str:
    """State the balance and the most pressing other line, in one or two short sentences."""
    balance = next((line for line in lines if line.label == BALANCE), None)
    other = next((line for line in lines if line.label != BALANCE), None)
    parts = [f"{line.label}: {line.text}." for line in (balance, other) if line is not None]
    return " ".join(parts)


def _points_url(brand: BrandProfile) -> str:
    return f"{brand.shop_url.rstrip('/')}/account/points"
