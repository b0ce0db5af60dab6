"""The planner: one kind or none per customer, in priority order, eligible and scheduled."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from agent.context.db import make_engine
from agent.context.store import ContextStore, CustomerNotFound
from agent.domain import (
    SUPPORTED_KINDS,
    BrandProfile,
    Channel,
    Consent,
    CustomerContext,
    MessageKind,
)
from agent.loyalty.models import ExpiringPoints
from agent.signals.planner import (
    HOLDOUT_REASON,
    Planner,
    PlanRow,
    PlanStatus,
    in_holdout,
    plan_customers,
)
from agent.signals.store import CustomerSignals, SignalsNotComputed
from tests.signals.conftest import ExtractDatabase
from tests.signals.factories import (
    AS_OF,
    CANDLE,
    context,
    loyalty_account,
    order,
    product_return,
    review,
    sent,
    stored_signals,
    ticket,
)
from tests.signals.factories import brand as demo_brand

# Customer ids inside and outside a 10% holdout, checked by the first test.
HELD_OUT = "12358"
NOT_HELD_OUT = "17850"


def _plan(
    ctx: CustomerContext,
    *,
    signals: CustomerSignals | None = None,
    channel: Channel = Channel.EMAIL,
    holdout_share: float = 0.0,
    as_of=AS_OF,
    brand: BrandProfile | None = None,
) -> PlanRow:
    stored = {ctx.customer_id: signals} if signals is not None else {}
    contexts = ContextStore(make_engine("sqlite://"))
    profile = brand or demo_brand()
    planner = Planner(contexts, profile, stored, channel=channel, holdout_share=holdout_share)
    return planner.plan_context(ctx, as_of)


def _status_for(kind: MessageKind) -> str:
    return PlanStatus.PLANNED if kind in SUPPORTED_KINDS else PlanStatus.RECOMMENDED


def test_holdout_ids_are_as_expected() -> None:
    assert in_holdout(HELD_OUT, 0.1)
    assert not in_holdout(NOT_HELD_OUT, 0.1)


def test_holdout_share_and_stability() -> None:
    ids = [str(10_000 + i) for i in range(20_000)]
    holdout = [i for i in ids if in_holdout(i, 0.1)]
    assert 0.09 < len(holdout) / len(ids) < 0.11
    assert holdout == [i for i in ids if in_holdout(i, 0.1)]
    assert not any(in_holdout(i, 0.0) for i in ids[:1000])


def test_holdout_gets_nothing() -> None:
    row = _plan(
        context(customer_id=HELD_OUT, orders=[order(delivered_days_ago=None)]), holdout_share=0.1
    )
    assert row.kind is None
    assert row.status == PlanStatus.NONE
    assert row.reason == HOLDOUT_REASON


def test_open_ticket_wins_over_followup() -> None:
    damaged = ticket(1, category="damaged")
    row = _plan(context(orders=[order(delivered_days_ago=None)], tickets=[damaged]))
    assert row.kind is MessageKind.SERVICE_RECOVERY
    assert row.status == _status_for(MessageKind.SERVICE_RECOVERY)
    assert "1 support ticket(s) open" in row.reason


def test_billing_ticket_recovery_only_recommended() -> None:
    row = _plan(context(tickets=[ticket(1, category="billing")]))
    assert row.kind is MessageKind.SERVICE_RECOVERY
    assert row.status == PlanStatus.RECOMMENDED
    assert "not drafted automatically (eligibility.no_trigger)" in row.reason


def test_service_recovery_beats_holdout() -> None:
    ctx = context(customer_id=HELD_OUT, returns=[product_return("560001", days_ago=1)])
    row = _plan(ctx, holdout_share=0.1)
    assert row.kind is MessageKind.SERVICE_RECOVERY
    assert "a return of order 560001" in row.reason


def test_negative_text_triggers_recovery() -> None:
    angry = ticket(20, status="closed", text="Terrible service, the mug arrived broken. Awful.")
    row = _plan(context(tickets=[angry]))
    assert row.kind is MessageKind.SERVICE_RECOVERY
    assert "negative text" in row.reason


def test_low_rating_triggers_recovery() -> None:
    row = _plan(context(reviews=[review(1, days_ago=4)]))
    assert row.kind is MessageKind.SERVICE_RECOVERY
    assert "1-star review" in row.reason


def test_recovery_not_repeated() -> None:
    ctx = context(
        orders=[order(delivered_days_ago=None)],
        tickets=[ticket(5)],
        messages_sent=[sent("service_recovery", 2)],
    )
    row = _plan(ctx)
    assert row.kind is MessageKind.ORDER_FOLLOWUP


def test_followup_in_transit() -> None:
    row = _plan(context(orders=[order(delivered_days_ago=None)]))
    assert row.kind is MessageKind.ORDER_FOLLOWUP
    assert row.status == PlanStatus.PLANNED
    assert "in transit" in row.reason


def test_followup_not_repeated() -> None:
    ctx = context(orders=[order(delivered_days_ago=1)], messages_sent=[sent("order_followup", 1)])
    row = _plan(ctx)
    assert row.kind is None
    assert "order_followup: already sent" in row.reason


def test_usage_tip_inside_window() -> None:
    row = _plan(context(orders=[order(delivered_days_ago=5)]))
    assert row.kind is MessageKind.USAGE_TIP
    assert "14-day usage window" in row.reason


def test_review_request_after_window() -> None:
    row = _plan(context(orders=[order(delivered_days_ago=16)]))
    assert row.kind is MessageKind.REVIEW_REQUEST
    assert row.signals["review_status"] == "due"


def test_stale_review_request_not_planned() -> None:
    row = _plan(context(orders=[order(delivered_days_ago=60)]))
    assert row.kind is None
    assert "past the 30-day limit" in row.reason


def test_review_request_blocked_by_consent() -> None:
    ctx = context(orders=[order(delivered_days_ago=16)], consent=Consent(sms_marketing=False))
    row = _plan(ctx, channel=Channel.SMS)
    assert row.kind is None
    assert row.reason.startswith("review_request blocked by compliance.consent")
    assert [f.check_id for f in row.findings] == ["compliance.consent"]


def test_review_request_held_by_undated_low_rating() -> None:
    ctx = context(orders=[order(delivered_days_ago=16)], reviews=[review(2, days_ago=None)])
    row = _plan(ctx)
    assert row.kind is None
    assert "review_request: blocked by negative_review" in row.reason


def test_winback_lapsed_repeat_buyer() -> None:
    orders = [order("1", delivered_days_ago=300), order("2", delivered_days_ago=200)]
    row = _plan(context(orders=orders), signals=stored_signals(p_alive=0.2, orders=2))
    assert row.kind is MessageKind.WINBACK
    assert "p_alive 0.20" in row.reason
    assert row.signals["p_alive"] == 0.2


def test_winback_skips_likely_alive() -> None:
    orders = [order("1", delivered_days_ago=300), order("2", delivered_days_ago=200)]
    row = _plan(context(orders=orders), signals=stored_signals(p_alive=0.8, orders=2))
    assert row.kind is None
    assert "churn risk low (p_alive 0.80)" in row.reason


def test_winback_overdue_despite_high_p_alive() -> None:
    # Orders 30 days apart, the last one 200 days ago: more than 3 times the usual gap.
    orders = [order("1", delivered_days_ago=230), order("2", delivered_days_ago=200)]
    row = _plan(context(orders=orders), signals=stored_signals(p_alive=0.99, orders=2))
    assert row.kind is MessageKind.WINBACK
    assert "overdue" in row.reason


def test_winback_skips_single_buyer() -> None:
    row = _plan(
        context(orders=[order(delivered_days_ago=200)]),
        signals=stored_signals(p_alive=0.1, orders=1),
    )
    assert row.kind is None
    assert "winback: only for repeat buyers" in row.reason


def test_winback_by_segment_without_p_alive() -> None:
    orders = [order("1", delivered_days_ago=300), order("2", delivered_days_ago=200)]
    signals = stored_signals(p_alive=None, orders=2, segment="at_risk", method="rfm_rules")
    row = _plan(context(orders=orders), signals=signals)
    assert row.kind is MessageKind.WINBACK
    assert "RFM segment at_risk" in row.reason


def test_winback_cooldown() -> None:
    orders = [order("1", delivered_days_ago=300), order("2", delivered_days_ago=200)]
    ctx = context(orders=orders, messages_sent=[sent("winback", 30)])
    row = _plan(ctx, signals=stored_signals(p_alive=0.2, orders=2))
    assert row.kind is None
    assert "winback: sent in the last 90 days" in row.reason


def test_referral_for_proven_advocate() -> None:
    signals = stored_signals(p_alive=0.9, advocate_score=90, coverage=0.85)
    row = _plan(context(orders=[order(delivered_days_ago=120)]), signals=signals)
    assert row.kind is MessageKind.REFERRAL_INVITE
    assert row.status == _status_for(MessageKind.REFERRAL_INVITE)
    assert "advocate score 90 with coverage 0.85" in row.reason


def test_referral_asks_happy_reviewer_for_photo() -> None:
    signals = stored_signals(p_alive=0.9, advocate_score=90, coverage=0.85)
    happy = review(5, days_ago=40, text="Lovely", stock_code=CANDLE[0])
    row = _plan(context(orders=[order(delivered_days_ago=120)], reviews=[happy]), signals=signals)
    assert row.kind is MessageKind.REFERRAL_INVITE
    assert "asking for a photo or video" in row.reason


def test_referral_without_brand_policy() -> None:
    signals = stored_signals(p_alive=0.9, advocate_score=90, coverage=0.85)
    no_policy = demo_brand().model_copy(update={"referral": None})
    row = _plan(context(orders=[order(delivered_days_ago=120)]), signals=signals, brand=no_policy)
    assert row.kind is None
    assert "referral_invite: the brand has no referral policy" in row.reason


def test_loyalty_points_expiring() -> None:
    account = loyalty_account(
        expiring=[ExpiringPoints(expires_at=AS_OF + timedelta(days=9), points=120)]
    )
    row = _plan(context(orders=[order(delivered_days_ago=120)], loyalty=account))
    assert row.kind is MessageKind.LOYALTY_UPDATE
    assert row.status == _status_for(MessageKind.LOYALTY_UPDATE)
    assert "120 points expire on 2011-12-09" in row.reason


def test_loyalty_tier_within_reach() -> None:
    account = loyalty_account(qualifying_points=900, points_to_next_tier=100)
    row = _plan(context(orders=[order(delivered_days_ago=120)], loyalty=account))
    assert row.kind is MessageKind.LOYALTY_UPDATE
    assert "100 points to the Gold tier" in row.reason


def test_loyalty_nothing_to_say() -> None:
    account = loyalty_account(qualifying_points=100, points_to_next_tier=900)
    row = _plan(context(orders=[order(delivered_days_ago=120)], loyalty=account))
    assert row.kind is None
    assert "loyalty_update: no points expiring and no tier within reach" in row.reason


def test_loyalty_cooldown() -> None:
    account = loyalty_account(qualifying_points=900, points_to_next_tier=100)
    ctx = context(
        orders=[order(delivered_days_ago=120)],
        loyalty=account,
        messages_sent=[sent("loyalty_update", 10)],
    )
    row = _plan(ctx)
    assert row.kind is None
    assert "loyalty_update: sent in the last 30 days" in row.reason


def test_referral_needs_coverage() -> None:
    signals = stored_signals(p_alive=0.9, advocate_score=100, coverage=0.35)
    row = _plan(context(orders=[order(delivered_days_ago=120)]), signals=signals)
    assert row.kind is None


def test_no_orders_reason() -> None:
    row = _plan(context(orders=[]))
    assert row.kind is None
    assert row.reason == "no live order at or before as_of"


def test_quiet_hours_move_marketing() -> None:
    late = AS_OF.replace(hour=22, minute=30)
    ctx = context(orders=[order(delivered_days_ago=16)])
    row = _plan(ctx, as_of=late)
    assert row.kind is MessageKind.REVIEW_REQUEST
    assert row.send_at is not None
    assert row.send_at_local is not None
    assert row.zone == "Europe/London"
    assert row.send_at_local.tzinfo == ZoneInfo("Europe/London")
    assert (row.send_at_local.hour, row.send_at_local.minute) == (8, 0)
    assert row.send_at_local.date() == (late + timedelta(days=1)).date()
    assert [f.check_id for f in row.findings] == ["compliance.quiet_hours"]


def test_frequency_cap_delays_marketing() -> None:
    ctx = context(orders=[order(delivered_days_ago=16)], messages_sent=[sent("winback", 0.1)])
    row = _plan(ctx)
    assert row.kind is MessageKind.REVIEW_REQUEST
    assert row.send_at is not None
    assert row.send_at > AS_OF
    assert "compliance.frequency_cap" in [f.check_id for f in row.findings]


def test_transactional_sends_now() -> None:
    row = _plan(context(orders=[order(delivered_days_ago=None)]))
    assert row.send_at == AS_OF
    assert row.findings == []


# --- over the stored extract -------------------------------------------------------------


def test_plan_extract_every_row_explained(extract_db: ExtractDatabase) -> None:
    engine = extract_db.engine()
    result = plan_customers(engine, demo_brand(), extract_db.as_of, holdout_share=0.1)
    assert len(result.rows) == extract_db.refresh.customers
    assert result.warnings == []
    for row in result.rows:
        assert row.kind is not None or row.reason, row.customer_id
        if row.kind is not None:
            assert row.send_at is not None
            assert row.send_at >= extract_db.as_of
    counts = result.counts()
    for kind in ("order_followup", "usage_tip", "review_request", "winback"):
        assert counts.get(kind, 0) > 0, counts
    holdout = [row for row in result.rows if row.reason == HOLDOUT_REASON]
    assert 0 < len(holdout) < len(result.rows) * 0.2


def test_plan_limit_and_ids(extract_db: ExtractDatabase) -> None:
    engine = extract_db.engine()
    limited = plan_customers(engine, demo_brand(), extract_db.as_of, limit=5)
    assert len(limited.rows) == 5
    ids = [limited.rows[3].customer_id, limited.rows[1].customer_id]
    chosen = plan_customers(engine, demo_brand(), extract_db.as_of, customer_ids=ids)
    assert [row.customer_id for row in chosen.rows] == ids
    with pytest.raises(CustomerNotFound):
        plan_customers(engine, demo_brand(), extract_db.as_of, customer_ids=["no-such-id"])


def test_plan_warns_on_stale_signals(extract_db: ExtractDatabase) -> None:
    later = extract_db.as_of + timedelta(days=10)
    result = plan_customers(extract_db.engine(), demo_brand(), later, limit=3)
    assert len(result.warnings) == 1
    assert "aftercare signals refresh" in result.warnings[0]


def test_plan_without_signals_raises(tmp_path) -> None:
    from agent.context.db import init_db

    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    init_db(engine)
    with pytest.raises(SignalsNotComputed, match="aftercare signals refresh --as-of 2011-11-30"):
        plan_customers(engine, demo_brand(), AS_OF)
