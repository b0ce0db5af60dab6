"""Factories shared by the tests of loyalty updates, referral invites and service recovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from agent.config import Settings
from agent.domain import (
    Consent,
    CustomerContext,
    Draft,
    Order,
    OrderLine,
    OrderStatus,
    Review,
)
from agent.drafting.services import Services
from agent.guardrails.figures import DATE, POINTS, find_figures
from agent.knowledge.brand import load_brand
from agent.loyalty.accounts import StoredLedger, build_account
from agent.loyalty.models import LedgerEntryType, LedgerLine, LedgerSource, LoyaltyAccount
from agent.loyalty.program import load_program
from tests.fakes import ScriptedProvider

HH = "hearth-and-holly"
LL = "linen-and-lark"
# One hour after the last invoice of the Online Retail extract (2011-12-09 12:50 UK time).
EXTRACT_AS_OF = datetime(2011, 12, 9, 13, 50, tzinfo=UTC)
LL_AS_OF = datetime(2011, 12, 9, 10, 0, tzinfo=UTC)
KB_DIR = Path(__file__).resolve().parents[2] / "kb"


def brand(brand_id: str = HH):
    return load_brand(KB_DIR, brand_id)


def scripted(settings: Settings, outputs: list) -> Services:
    return Services(settings, provider=ScriptedProvider(outputs))


def ll_line(code: str, description: str, price: str) -> OrderLine:
    return OrderLine(
        stock_code=code, description=description, quantity=1, unit_price=Decimal(price)
    )


def ll_orders(count: int = 5) -> list[Order]:
    """Orders of Linen & Lark pieces, a month apart, the last one delivered on 28 November."""
    pieces = [
        ll_line("LL-K210", "CABLE KNIT JUMPER OATMEAL", "79.00"),
        ll_line("LL-D101", "LINEN SHIRT DRESS SAGE", "95.00"),
        ll_line("LL-B330", "SILK BLOUSE IVORY", "85.00"),
        ll_line("LL-T402", "WIDE LEG TROUSERS NAVY", "69.00"),
        ll_line("LL-K211", "MERINO CARDIGAN CHARCOAL", "89.00"),
    ]
    orders = []
    for index in range(count):
        placed = datetime(2011, 11, 24, 9, 0, tzinfo=UTC) - timedelta(days=30 * index)
        orders.append(
            Order(
                order_id=f"LL-2100{index}",
                placed_at=placed,
                status=OrderStatus.DELIVERED,
                delivered_at=placed + timedelta(days=4),
                delivery_estimated=True,
                lines=[pieces[index % len(pieces)]],
            )
        )
    return list(reversed(orders))


def ll_context(**overrides) -> CustomerContext:
    """A Linen & Lark customer with consent on both channels and five orders."""
    values = {
        "customer_id": "ll-maya",
        "first_name": "Maya",
        "country": "United Kingdom",
        "consent": Consent(email_marketing=True, sms_marketing=True),
        "orders": ll_orders(),
    }
    values.update(overrides)
    return CustomerContext(**values)


def ll_account(context: CustomerContext, as_of: datetime = LL_AS_OF) -> LoyaltyAccount:
    """Build the customer's Studio Points account with the real programme and ledger replay.

    Each order earns its total in points when it was placed, and one order from last
    December earned 200 points that expire within the programme's warning window.
    """
    program = load_program(KB_DIR, LL).program
    entries = [
        LedgerLine(
            type=LedgerEntryType.EARNED,
            points=int(order.total),
            at=order.placed_at,
            reference=f"order:{order.order_id}",
            source=LedgerSource.IMPORTED,
        )
        for order in context.orders
    ]
    entries.append(
        LedgerLine(
            type=LedgerEntryType.EARNED,
            points=200,
            at=datetime(2010, 12, 20, 12, 0, tzinfo=UTC),
            reference="order:LL-19999",
            source=LedgerSource.IMPORTED,
        )
    )
    families = {line.family for order in context.orders for line in order.lines if line.family}
    return build_account(StoredLedger(LL, program, entries), as_of, families)


def classified(context: CustomerContext, brand_id: str = LL) -> CustomerContext:
    """Set each order line's product family, as the services do for inline contexts."""
    from agent.knowledge.brand import classify_family

    profile = brand(brand_id)
    for order in context.orders:
        for line in order.lines:
            line.family = line.family or classify_family(line.description, profile)
    return context


def happy_reviews(latest_rating: int = 5) -> list[Review]:
    return [
        Review(
            stock_code="LL-D101",
            rating=5,
            text="Lovely fabric and a beautiful cut, I wear it all the time.",
            created_at=datetime(2011, 10, 1, tzinfo=UTC),
        ),
        Review(
            stock_code="LL-K210",
            rating=latest_rating,
            text="Warm and soft, and it washes well.",
            created_at=datetime(2011, 11, 2, tzinfo=UTC),
        ),
    ]


def points_figures(draft: Draft) -> list[int]:
    """Return every loyalty balance figure ("1,234 points") in the subject and text."""
    parts = [draft.subject or "", draft.text]
    return [f.value for part in parts for f in find_figures(part) if f.kind == POINTS]


def date_figures(draft: Draft) -> list[tuple]:
    return [f.value for f in find_figures(draft.text) if f.kind == DATE]


def account_points(account: LoyaltyAccount) -> set[int]:
    """The point figures a draft may state: balance, expiring lots, gap and reward costs."""
    figures = {account.balance}
    figures |= {item.points for item in account.expiring}
    figures |= {account.points_to_next_tier} if account.points_to_next_tier else set()
    figures |= {reward.points_cost for reward in account.eligible_rewards}
    return figures


def check_ids(draft: Draft) -> set[str]:
    return {finding.check_id for finding in draft.findings}


def attempt_check_ids(draft: Draft) -> set[str]:
    return {finding.check_id for attempt in draft.attempt_log for finding in attempt.findings}


def stored_signals(
    customer_id: str,
    brand_id: str,
    as_of: datetime,
    *,
    advocate_score: int = 90,
    coverage: float = 0.85,
    p_alive: float | None = 0.8,
    predicted_clv: float | None = 300.0,
):
    """Build the signals a refresh would store, with the values these tests read."""
    from agent.signals.store import (
        AdvocacySignal,
        ClvSignal,
        CustomerSignals,
        ReviewSignal,
        RfmSignal,
        SentimentSignal,
    )

    return CustomerSignals(
        customer_id=customer_id,
        brand=brand_id,
        as_of=as_of,
        computed_at=as_of,
        refresh_id="test-refresh",
        clv=ClvSignal(method="bg_nbd+gamma_gamma", p_alive=p_alive, predicted_clv=predicted_clv),
        rfm=RfmSignal(
            recency_days=10,
            orders=5,
            monetary=400.0,
            r_score=5,
            f_score=5,
            m_score=4,
            segment="champions",
        ),
        sentiment=SentimentSignal(
            texts=0,
            mean_compound=None,
            latest_compound=None,
            latest_at=None,
            recent_negative=0,
            label=None,
        ),
        advocacy=AdvocacySignal(score=advocate_score, coverage=coverage, inputs={}),
        review=ReviewSignal(status="none"),
    )
