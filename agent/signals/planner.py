"""The planner: for each customer as of a date, the one message kind to send, or none.

Rules, in priority order (the first kind that fits and passes eligibility wins):

1. service_recovery when a support ticket is open or a return was made within RECENT_DAYS
   or on the last order. A text of the last RECENT_DAYS that reads negative, or a review of
   1 or 2 stars from then, triggers it too, as does what agent.drafting.triggers finds: a
   late or missing delivery, or a recently closed complaint. It wins over every other kind,
   the holdout included, because holding an apology back from an unhappy customer measures
   no message's effect. It is skipped when one was sent after the latest trigger.
2. holdout: a stable hash of the customer id puts `holdout_share` of customers in a
   control group that gets nothing, so uplift can be measured against it.
3. order_followup while the last order is in transit or delivered at most
   ORDER_FOLLOWUP_DAYS ago, unless one was sent since the order.
4. usage_tip from USAGE_TIP_MIN_DAYS after delivery until the longest usage window of the
   order's families that have tips, unless one was sent since the order.
5. review_request when `review_timing` returns due, at most REVIEW_MAX_DAYS_LATE after the
   due date, unless one was sent since the order.
6. loyalty_update when points in the customer's loyalty account expire soon or the next
   tier is within reach, unless one was sent in the last LOYALTY_COOLDOWN_DAYS.
7. winback when the churn risk is high (p_alive at most WINBACK_MAX_P_ALIVE, or an at-risk
   or hibernating RFM segment when no p_alive exists) or the customer is overdue (the last
   order is more than WINBACK_OVERDUE_FACTOR times their mean gap between orders ago) for a
   repeat buyer whose last order is at least WINBACK_MIN_DAYS old, unless one was sent in
   the last WINBACK_COOLDOWN_DAYS. The overdue rule exists because BG/NBD fits on some shops
   put the dropout probability near zero, which leaves p_alive near 1 for everyone.
8. referral_invite when the advocate score and its coverage reach the brand's `referral`
   policy, unless one was sent in the last REFERRAL_COOLDOWN_DAYS.

A kind that fits is then checked with `check_eligibility` (consent, open ticket, return,
negative sentiment). When it is blocked the next kind that fits is tried, and when every
one is blocked the row has no kind and the first block as its reason. The send time comes
from `next_send_time` (quiet hours and frequency caps), shown in the customer's zone.

A row's status is `planned` when the drafting pipeline can draft it, and `recommended` when
it cannot: a kind outside SUPPORTED_KINDS, or a service recovery for a cause the drafting
pipeline has no remedy for (a billing ticket, negative text alone).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from agent.context.store import ContextStore
from agent.domain import (
    SUPPORTED_KINDS,
    BrandProfile,
    Channel,
    CustomerContext,
    Finding,
    MessageKind,
    Order,
    OrderStatus,
    RecoveryTrigger,
)
from agent.drafting.kinds import UGC
from agent.drafting.loyalty_update import soonest_expiry, tier_within_reach
from agent.drafting.referral_invite import referral_situation
from agent.drafting.service_recovery import recovery_situation
from agent.drafting.triggers import detect_triggers
from agent.guardrails.appropriateness import NEGATIVE_REVIEW_MAX_RATING
from agent.guardrails.compliance import check_eligibility
from agent.guardrails.schedule import customer_zone, next_send_time
from agent.signals.refresh import customers_as_of
from agent.signals.sentiment import RECENT_DAYS, CustomerSentiment, customer_sentiment
from agent.signals.store import (
    CustomerSignals,
    SignalsNotComputed,
    latest_refresh,
    load_brand_signals,
    refresh_command,
)
from agent.signals.timing import ReviewStatus, ReviewTiming, review_timing

logger = logging.getLogger(__name__)

ORDER_FOLLOWUP_DAYS = 2
USAGE_TIP_MIN_DAYS = 3
REVIEW_MAX_DAYS_LATE = 30
WINBACK_MAX_P_ALIVE = 0.5
WINBACK_MIN_DAYS = 60
WINBACK_COOLDOWN_DAYS = 90
WINBACK_OVERDUE_FACTOR = 3.0
WINBACK_RULE_SEGMENTS = frozenset({"at_risk", "hibernating"})
REFERRAL_COOLDOWN_DAYS = 180
LOYALTY_COOLDOWN_DAYS = 30
# Signals computed this far from the plan's as_of are reported as stale.
STALE_SIGNALS = timedelta(days=1)
HOLDOUT_SALT = "aftercare-plan-holdout"

HOLDOUT_REASON = "holdout"


class PlanStatus:
    PLANNED = "planned"  # the drafting pipeline drafts this kind
    RECOMMENDED = "recommended"  # a kind or case the drafting pipeline does not draft
    NONE = "none"


@dataclass
class PlanRow:
    customer_id: str
    kind: MessageKind | None
    status: str  # a PlanStatus value
    channel: Channel
    reason: str
    signals: dict[str, object] = field(default_factory=dict)
    send_at: datetime | None = None  # UTC
    send_at_local: datetime | None = None  # the same moment in the customer's zone
    zone: str | None = None
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "customer_id": self.customer_id,
            "kind": self.kind.value if self.kind else None,
            "status": self.status,
            "channel": self.channel.value,
            "reason": self.reason,
            "send_at": self.send_at.isoformat() if self.send_at else None,
            "send_at_local": self.send_at_local.isoformat() if self.send_at_local else None,
            "zone": self.zone,
            "signals": self.signals,
            "findings": [finding.model_dump(mode="json") for finding in self.findings],
        }


@dataclass
class PlanResult:
    as_of: datetime
    channel: Channel
    brand: str
    rows: list[PlanRow]
    signals_as_of: datetime
    seconds: float
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            key = row.kind.value if row.kind else row.status
            counts[key] = counts.get(key, 0) + 1
        return counts


@dataclass(frozen=True)
class Candidate:
    kind: MessageKind
    reason: str
    draftable: bool = True  # False when the drafting pipeline cannot draft this case


def in_holdout(customer_id: str, share: float) -> bool:
    """Return True when the customer belongs to the holdout, the same on every run."""
    if share <= 0:
        return False
    digest = hashlib.sha256(f"{HOLDOUT_SALT}|{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


# --- the rules ------------------------------------------------------------------------


def _sent_since(context: CustomerContext, kind: MessageKind, since: datetime) -> datetime | None:
    sent = [m.sent_at for m in context.messages_sent if m.kind == kind and m.sent_at >= since]
    return max(sent) if sent else None


def _days(delta: timedelta) -> int:
    return delta.days


def recovery_triggers(
    context: CustomerContext, sentiment: CustomerSentiment, as_of: datetime
) -> list[tuple[datetime | None, str]]:
    """Return (when, why) for every reason the customer needs a service recovery."""
    recent_from = as_of - timedelta(days=RECENT_DAYS)
    last = context.last_order()
    triggers: list[tuple[datetime | None, str]] = []
    open_tickets = [t for t in context.tickets if t.status == "open"]
    if context.open_ticket_count():
        opened = max((t.opened_at for t in open_tickets), default=None)
        triggers.append((opened, f"{context.open_ticket_count()} support ticket(s) open"))
    for item in context.returns:
        if item.created_at >= recent_from or (last is not None and item.order_id == last.order_id):
            cause = f"a return of order {item.order_id} on {item.created_at:%Y-%m-%d}"
            triggers.append((item.created_at, cause))
    if sentiment.recent_negative_found:
        triggers.append(
            (
                sentiment.latest_at,
                f"{sentiment.recent_negative} negative text(s) in the last {RECENT_DAYS} days",
            )
        )
    for review in context.reviews:
        recent = review.created_at is not None and review.created_at >= recent_from
        if recent and review.rating <= NEGATIVE_REVIEW_MAX_RATING:
            cause = f"a {review.rating}-star review on {review.created_at:%Y-%m-%d}"
            triggers.append((review.created_at, cause))
    return triggers


def delivery_and_closed_triggers(
    context: CustomerContext, brand: BrandProfile, as_of: datetime
) -> list[tuple[datetime | None, str]]:
    """Return the drafting pipeline's triggers that `recovery_triggers` does not cover:
    late or missing deliveries, and complaint tickets closed recently."""
    found: list[tuple[datetime | None, str]] = []
    for trigger in detect_triggers(context, brand, as_of):
        order_id = trigger.order.order_id if trigger.order else "?"
        if trigger.trigger is RecoveryTrigger.LATE_DELIVERY:
            found.append((trigger.at, f"order {order_id} arrived after {trigger.promised}"))
        elif trigger.trigger is RecoveryTrigger.NOT_DELIVERED:
            found.append((trigger.at, f"order {order_id} not delivered by {trigger.promised}"))
        elif trigger.ticket is not None and not trigger.open:
            ticket = trigger.ticket
            found.append((trigger.at, f"{ticket.category} ticket {ticket.ticket_id} closed"))
    return found


def service_recovery(
    context: CustomerContext, brand: BrandProfile, sentiment: CustomerSentiment, as_of: datetime
) -> tuple[Candidate | None, str | None]:
    """Return the service recovery candidate, or (None, why it is skipped) when one fits."""
    triggers = recovery_triggers(context, sentiment, as_of)
    triggers += delivery_and_closed_triggers(context, brand, as_of)
    if not triggers:
        return None, None
    reason = "; ".join(cause for _, cause in triggers)
    dated = [when for when, _ in triggers if when is not None]
    sent = _sent_since(context, MessageKind.SERVICE_RECOVERY, max(dated)) if dated else None
    if sent is not None:
        return None, f"{reason}, and a service recovery was sent on {sent:%Y-%m-%d}"
    blocked = recovery_situation(context, brand, as_of).ineligible
    if blocked is not None:
        reason += f"; not drafted automatically ({blocked.check_id})"
    return Candidate(MessageKind.SERVICE_RECOVERY, reason, draftable=blocked is None), None


def order_followup(context: CustomerContext, order: Order, as_of: datetime) -> Candidate | str:
    if _sent_since(context, MessageKind.ORDER_FOLLOWUP, order.placed_at):
        return f"already sent for order {order.order_id}"
    if order.status is OrderStatus.SHIPPED:
        return Candidate(MessageKind.ORDER_FOLLOWUP, f"order {order.order_id} is in transit")
    if order.delivered_at is None:
        return f"order {order.order_id} is {order.status.value}"
    days = _days(as_of - order.delivered_at)
    if days <= ORDER_FOLLOWUP_DAYS:
        return Candidate(
            MessageKind.ORDER_FOLLOWUP, f"order {order.order_id} delivered {days} day(s) ago"
        )
    return f"delivered {days} days ago"


def tip_window(order: Order, brand: BrandProfile) -> int | None:
    """Return the longest usage window among the order's families that have tips."""
    windows = [
        family.usage_window_days
        for family in brand.families
        if family.tips and any(line.family == family.family_id for line in order.lines)
    ]
    return max(windows) if windows else None


def usage_tip(
    context: CustomerContext, order: Order, brand: BrandProfile, as_of: datetime
) -> Candidate | str:
    if order.delivered_at is None:
        return "not before delivery"
    window = tip_window(order, brand)
    if window is None:
        return "no care tips for the products of the last order"
    if _sent_since(context, MessageKind.USAGE_TIP, order.placed_at):
        return "already sent for the last order"
    days = _days(as_of - order.delivered_at)
    if USAGE_TIP_MIN_DAYS <= days <= window:
        return Candidate(
            MessageKind.USAGE_TIP,
            f"delivered {days} days ago, inside the {window}-day usage window",
        )
    if days < USAGE_TIP_MIN_DAYS:
        return f"from day {USAGE_TIP_MIN_DAYS} after delivery"
    return f"the {window}-day usage window passed"


def review_request(
    context: CustomerContext, order: Order, timing: ReviewTiming, as_of: datetime
) -> Candidate | str:
    if timing.status is ReviewStatus.BLOCKED:
        return f"blocked by {', '.join(timing.blockers)}"
    if timing.status is ReviewStatus.WAITING and timing.due_at is not None:
        return f"waiting until {timing.due_at:%Y-%m-%d}"
    if timing.status is not ReviewStatus.DUE or timing.due_at is None:
        return timing.status.value
    if _sent_since(context, MessageKind.REVIEW_REQUEST, order.placed_at):
        return "already sent for the last order"
    late = _days(as_of - timing.due_at)
    if late > REVIEW_MAX_DAYS_LATE:
        return f"due {late} days ago, past the {REVIEW_MAX_DAYS_LATE}-day limit"
    return Candidate(
        MessageKind.REVIEW_REQUEST,
        f"review due since {timing.due_at:%Y-%m-%d} ({timing.window_days}-day usage window)",
    )


def winback(
    context: CustomerContext, signals: CustomerSignals | None, as_of: datetime
) -> Candidate | str:
    if signals is None:
        return "no stored churn signals"
    rfm, clv = signals.rfm, signals.clv
    last = context.last_order()
    if last is None or rfm.orders < 2:
        return "only for repeat buyers"
    days = _days(as_of - last.placed_at)
    if days < WINBACK_MIN_DAYS:
        return f"last order {days} days ago"
    gap = mean_order_gap_days(context)
    overdue = gap is not None and days > WINBACK_OVERDUE_FACTOR * gap
    if clv.p_alive is not None and clv.p_alive <= WINBACK_MAX_P_ALIVE:
        risk = f"p_alive {clv.p_alive:.2f} ({clv.method})"
    elif overdue:
        risk = f"overdue: {days} days against a usual gap of {gap:.0f} days"
    elif clv.p_alive is not None:
        return f"churn risk low (p_alive {clv.p_alive:.2f})"
    elif rfm.segment in WINBACK_RULE_SEGMENTS:
        risk = f"RFM segment {rfm.segment}"
    else:
        return f"churn risk not high (RFM segment {rfm.segment})"
    cooldown = as_of - timedelta(days=WINBACK_COOLDOWN_DAYS)
    if _sent_since(context, MessageKind.WINBACK, cooldown):
        return f"sent in the last {WINBACK_COOLDOWN_DAYS} days"
    value = f", predicted CLV {clv.predicted_clv:.2f}" if clv.predicted_clv is not None else ""
    return Candidate(
        MessageKind.WINBACK, f"{rfm.orders} orders, last {days} days ago, {risk}{value}"
    )


def mean_order_gap_days(context: CustomerContext) -> float | None:
    """Mean days between a customer's distinct live order days, or None below two of them."""
    days = sorted(
        {o.placed_at.date() for o in context.orders if o.status is not OrderStatus.CANCELLED}
    )
    if len(days) < 2:
        return None
    return (days[-1] - days[0]).days / (len(days) - 1)


def loyalty_update(context: CustomerContext, as_of: datetime) -> Candidate | str:
    account = context.loyalty
    if account is None:
        return "no loyalty account"
    cooldown = as_of - timedelta(days=LOYALTY_COOLDOWN_DAYS)
    if _sent_since(context, MessageKind.LOYALTY_UPDATE, cooldown):
        return f"sent in the last {LOYALTY_COOLDOWN_DAYS} days"
    expiring = soonest_expiry(account, as_of)
    if expiring is not None:
        return Candidate(
            MessageKind.LOYALTY_UPDATE,
            f"{expiring.points:,} points expire on {expiring.expires_at:%Y-%m-%d}",
        )
    if tier_within_reach(account):
        return Candidate(
            MessageKind.LOYALTY_UPDATE,
            f"{account.points_to_next_tier:,} points to the {account.next_tier_name} tier",
        )
    return "no points expiring and no tier within reach"


def referral_invite(
    context: CustomerContext,
    brand: BrandProfile,
    signals: CustomerSignals | None,
    as_of: datetime,
) -> Candidate | str:
    policy = brand.referral
    if policy is None:
        return "the brand has no referral policy"
    if signals is None:
        return "no stored advocacy signals"
    advocacy = signals.advocacy
    if advocacy.score < policy.min_advocate_score or advocacy.coverage < policy.min_coverage:
        return (
            f"advocate score {advocacy.score} with coverage {advocacy.coverage:.2f}, below "
            f"{policy.min_advocate_score} with {policy.min_coverage:.2f}"
        )
    cooldown = as_of - timedelta(days=REFERRAL_COOLDOWN_DAYS)
    if _sent_since(context, MessageKind.REFERRAL_INVITE, cooldown):
        return f"sent in the last {REFERRAL_COOLDOWN_DAYS} days"
    situation = referral_situation(context, brand, as_of, signals)
    if situation.ineligible is not None:
        return situation.ineligible.check_id
    photo = ", asking for a photo or video" if situation.copy_variant == UGC else ""
    return Candidate(
        MessageKind.REFERRAL_INVITE,
        f"advocate score {advocacy.score} with coverage {advocacy.coverage:.2f}{photo}",
    )


# --- one customer -----------------------------------------------------------------------


def signal_summary(
    signals: CustomerSignals | None, sentiment: CustomerSentiment, timing: ReviewTiming
) -> dict[str, object]:
    """Return the signals a reader needs to judge the decision, flat and JSON-ready."""
    summary: dict[str, object] = {
        "sentiment": sentiment.label.value if sentiment.label else None,
        "recent_negative_texts": sentiment.recent_negative,
        "review_status": timing.status.value,
        "review_due_at": timing.due_at.isoformat() if timing.due_at else None,
    }
    if signals is None:
        return summary | {"stored_signals": None}
    return summary | {
        "clv_method": signals.clv.method,
        "p_alive": signals.clv.p_alive,
        "predicted_clv": signals.clv.predicted_clv,
        "rfm_segment": signals.rfm.segment,
        "orders": signals.rfm.orders,
        "advocate_score": signals.advocacy.score,
    }


class Planner:
    """Plans one customer at a time for one brand and channel."""

    def __init__(
        self,
        contexts: ContextStore,
        brand: BrandProfile,
        signals: dict[str, CustomerSignals],
        *,
        channel: Channel = Channel.EMAIL,
        holdout_share: float = 0.0,
    ) -> None:
        self.contexts = contexts
        self.brand = brand
        self.signals = signals
        self.channel = channel
        self.holdout_share = holdout_share

    def plan(self, customer_id: str, as_of: datetime) -> PlanRow:
        """Plan one customer; raises CustomerNotFound for an unknown id."""
        context = self.contexts.load(customer_id, as_of=as_of, brand=self.brand)
        return self.plan_context(context, as_of)

    def plan_context(self, context: CustomerContext, as_of: datetime) -> PlanRow:
        sentiment = customer_sentiment(context, as_of)
        timing = review_timing(context, self.brand, sentiment, as_of)
        stored = self.signals.get(context.customer_id)
        summary = signal_summary(stored, sentiment, timing)
        row = PlanRow(context.customer_id, None, PlanStatus.NONE, self.channel, "", summary)

        recovery, skipped = service_recovery(context, self.brand, sentiment, as_of)
        if recovery is not None:
            return self._choose(row, context, [recovery], as_of)
        if in_holdout(context.customer_id, self.holdout_share):
            row.reason = HOLDOUT_REASON
            return row
        order = context.last_order()
        if order is None:
            row.reason = "no live order at or before as_of"
            return row
        candidates, notes = self._candidates(context, order, stored, timing, as_of)
        if skipped:
            notes.insert(0, f"service_recovery: {skipped}")
        if not candidates:
            row.reason = "nothing due. " + "; ".join(notes)
            return row
        return self._choose(row, context, candidates, as_of)

    def _candidates(
        self,
        context: CustomerContext,
        order: Order,
        stored: CustomerSignals | None,
        timing: ReviewTiming,
        as_of: datetime,
    ) -> tuple[list[Candidate], list[str]]:
        outcomes = {
            MessageKind.ORDER_FOLLOWUP: order_followup(context, order, as_of),
            MessageKind.USAGE_TIP: usage_tip(context, order, self.brand, as_of),
            MessageKind.REVIEW_REQUEST: review_request(context, order, timing, as_of),
            MessageKind.LOYALTY_UPDATE: loyalty_update(context, as_of),
            MessageKind.WINBACK: winback(context, stored, as_of),
            MessageKind.REFERRAL_INVITE: referral_invite(context, self.brand, stored, as_of),
        }
        candidates = [item for item in outcomes.values() if isinstance(item, Candidate)]
        # Why each other kind does not fit, named by kind, for the reason of a row without one.
        notes = [f"{kind}: {item}" for kind, item in outcomes.items() if isinstance(item, str)]
        return candidates, notes

    def _choose(
        self,
        row: PlanRow,
        context: CustomerContext,
        candidates: Iterable[Candidate],
        as_of: datetime,
    ) -> PlanRow:
        first_block: Finding | None = None
        blocked_kind: MessageKind | None = None
        for candidate in candidates:
            block = check_eligibility(context, self.brand, candidate.kind, self.channel, as_of)
            if block is not None:
                if first_block is None:
                    first_block, blocked_kind = block, candidate.kind
                continue
            return self._schedule(row, context, candidate, as_of)
        assert first_block is not None and blocked_kind is not None
        row.reason = (
            f"{blocked_kind.value} blocked by {first_block.check_id}: {first_block.message}"
        )
        row.findings = [first_block]
        return row

    def _schedule(
        self, row: PlanRow, context: CustomerContext, candidate: Candidate, as_of: datetime
    ) -> PlanRow:
        decision = next_send_time(context, self.brand, candidate.kind, self.channel, as_of)
        zone = customer_zone(context, self.brand)
        row.kind = candidate.kind
        draftable = candidate.draftable and candidate.kind in SUPPORTED_KINDS
        row.status = PlanStatus.PLANNED if draftable else PlanStatus.RECOMMENDED
        row.reason = candidate.reason
        row.send_at = decision.send_at
        row.send_at_local = decision.send_at.astimezone(zone)
        row.zone = zone.key
        row.findings = list(decision.findings)
        return row


# --- every customer -----------------------------------------------------------------------


def plan_customers(
    engine: Engine,
    brand: BrandProfile,
    as_of: datetime,
    *,
    channel: Channel = Channel.EMAIL,
    holdout_share: float = 0.0,
    limit: int | None = None,
    customer_ids: list[str] | None = None,
    contexts: ContextStore | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PlanResult:
    """Plan every customer known at `as_of` (or `customer_ids`), at most `limit` of them.

    Customers are planned in customer id order. Raises SignalsNotComputed when no refresh
    stored signals for the brand.
    """
    started = time.perf_counter()
    refresh = latest_refresh(engine, brand.brand_id)
    if refresh is None:
        raise SignalsNotComputed(
            f"no signals are stored for brand {brand.brand_id!r}; compute them first with "
            f"`{refresh_command(brand.brand_id, as_of)}`"
        )
    warnings = []
    if abs(refresh.as_of - as_of) > STALE_SIGNALS:
        warnings.append(
            f"signals were computed as of {refresh.as_of:%Y-%m-%d %H:%M}, not "
            f"{as_of:%Y-%m-%d %H:%M}; churn and value may be stale, so run "
            f"`{refresh_command(brand.brand_id, as_of)}`"
        )
    ids = customer_ids if customer_ids is not None else customers_as_of(engine, as_of)[0]
    if limit is not None:
        ids = ids[:limit]
    planner = Planner(
        contexts or ContextStore(engine),
        brand,
        load_brand_signals(engine, brand.brand_id),
        channel=channel,
        holdout_share=holdout_share,
    )
    rows = []
    for done, customer_id in enumerate(ids, start=1):
        rows.append(planner.plan(customer_id, as_of))
        if progress is not None:
            progress(done, len(ids))
    return PlanResult(
        as_of, channel, brand.brand_id, rows, refresh.as_of, time.perf_counter() - started, warnings
    )
