from __future__ import annotations

from decimal import Decimal

import pytest

from agent.domain import Severity
from agent.guardrails.policy import check_policy_promise, find_promises, parse_count
from tests.guardrails.factories import ids, make_brand, make_context, make_fields, make_input

OFFER = "free standard delivery on your next order"


def _promises(body: str, allowed_offer: str | None = None, country="United Kingdom", **brand):
    inp = make_input(
        brand=make_brand(**brand),
        context=make_context(country=country),
        fields=make_fields(body=body),
        allowed_offer=allowed_offer,
    )
    return check_policy_promise(inp)


@pytest.mark.parametrize(
    ("text", "value"),
    [("30", 30), ("thirty", 30), ("twenty-eight", 28), ("Fourteen", 14), ("a few", None)],
)
def test_parse_count(text: str, value: int | None) -> None:
    assert parse_count(text) == value


# --- returns ---------------------------------------------------------------------------------


def test_free_returns_blocked_without_policy() -> None:
    findings = _promises("Enjoy free returns on everything.", returns_window_days=30)
    assert len(findings) == 1
    assert findings[0].check_id == "grounding.policy_promise"
    assert findings[0].severity is Severity.BLOCK
    assert findings[0].span == "free returns"
    assert findings[0].field == "body"
    assert "returns are not free" in findings[0].message
    assert "returns within 30 days of delivery" in findings[0].suggestion


def test_free_returns_allowed_by_policy() -> None:
    assert _promises("Returns are free.", returns_window_days=28, free_returns=True) == []


@pytest.mark.parametrize(
    "body",
    [
        "You have 30 days to return it.",
        "You can return it within thirty days.",
        "Returns are accepted within 30 days.",
        "Enjoy our 30-day returns window.",
    ],
)
def test_matching_returns_window_passes(body: str) -> None:
    assert _promises(body, returns_window_days=30) == []


@pytest.mark.parametrize(
    "body",
    [
        "You have 28 days to return it.",
        "Send it back within 60 days for a refund.",
        "Enjoy our 14-day returns.",
    ],
)
def test_other_returns_window_blocked(body: str) -> None:
    findings = _promises(body, returns_window_days=30)
    assert ids(findings) == ["grounding.policy_promise"]
    assert "the returns window is 30 days" in findings[0].message


def test_returns_window_blocked_without_policy() -> None:
    findings = _promises("You have 30 days to return it.")
    assert "states no returns window" in findings[0].message


# --- guarantees ------------------------------------------------------------------------------


def test_lifetime_guarantee_blocked() -> None:
    findings = _promises("It comes with a lifetime guarantee.")
    assert [f.span for f in findings] == ["lifetime guarantee"]
    assert "gives no guarantee" in findings[0].message


def test_guarantee_matching_wording_passes() -> None:
    wording = "a 2-year guarantee on every candle holder"
    assert _promises("Every holder has a 2-year guarantee.", guarantee=wording) == []
    assert _promises("It is guaranteed for two years.", guarantee=wording) == []
    assert _promises("Our guarantee covers it.", guarantee=wording) == []


def test_guarantee_other_period_blocked() -> None:
    wording = "a 2-year guarantee on every candle holder"
    findings = _promises("Guaranteed for 5 years.", guarantee=wording)
    assert ids(findings) == ["grounding.policy_promise"]
    assert wording in findings[0].message


def test_lifetime_guarantee_allowed_when_brand_gives_one() -> None:
    assert _promises("A lifetime guarantee.", guarantee="Lifetime guarantee on cast iron") == []


def test_money_back_guarantee_blocked() -> None:
    findings = _promises("Satisfaction guaranteed or your money back.")
    assert ids(findings) == ["grounding.policy_promise"]


def test_generic_guarantee_blocked_without_policy() -> None:
    assert ids(_promises("We guarantee you will love it.")) == ["grounding.policy_promise"]


# --- delivery --------------------------------------------------------------------------------


def test_next_day_delivery_blocked() -> None:
    findings = _promises("Order now for next-day delivery.")
    assert [f.span for f in findings] == ["next-day delivery"]
    assert "no next-day delivery" in findings[0].message
    assert "delivery takes 3 working days" in findings[0].suggestion


def test_next_day_delivery_allowed_by_policy() -> None:
    assert _promises("We offer next-day delivery.", next_day_delivery=True) == []


def test_same_day_delivery_always_blocked() -> None:
    findings = _promises("Same-day delivery on all orders.", next_day_delivery=True)
    assert "no same-day delivery" in findings[0].message


def test_delivery_tomorrow_blocked() -> None:
    assert ids(_promises("It will be delivered tomorrow.")) == ["grounding.policy_promise"]


@pytest.mark.parametrize(
    ("body", "blocked"),
    [
        ("It should arrive within 3 working days.", False),
        ("It arrives in 2 days.", True),
        ("Expect 5-day delivery.", True),
    ],
)
def test_delivery_days_match_policy(body: str, blocked: bool) -> None:
    assert bool(_promises(body)) is blocked


def test_international_delivery_days() -> None:
    body = "It should arrive within 6 working days."
    assert _promises(body, country="France", international_delivery_days=6) == []
    assert ids(_promises(body, international_delivery_days=6)) == ["grounding.policy_promise"]


def test_free_delivery_threshold() -> None:
    brand = {"free_delivery_threshold": Decimal("40")}
    assert _promises("Free delivery on orders over £40.", **brand) == []
    assert ids(_promises("Free delivery on orders over £30.", **brand)) == [
        "grounding.policy_promise"
    ]
    assert ids(_promises("Enjoy free delivery.", **brand)) == ["grounding.policy_promise"]


def test_free_delivery_blocked_without_policy() -> None:
    findings = _promises("Enjoy free shipping.")
    assert "no free delivery" in findings[0].message


def test_allowed_offer_is_no_promise() -> None:
    assert _promises(f"Enjoy {OFFER}.", allowed_offer=OFFER) == []


def test_plain_copy_has_no_promises() -> None:
    assert _promises("Thanks for your order. We hope it brings you joy.") == []


def test_promises_report_kept_ones_too() -> None:
    inp = make_input(
        brand=make_brand(returns_window_days=30), fields=make_fields(body="x"), allowed_offer=None
    )
    promises = find_promises(inp, "Free returns within 30 days of delivery.")
    assert [(p.text, p.kept) for p in promises] == [
        ("Free returns", False),
        ("returns within 30 days", True),
    ]
