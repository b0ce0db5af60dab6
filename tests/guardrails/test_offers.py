from __future__ import annotations

from decimal import Decimal

import pytest

from agent.domain import IncentiveStep, MessageKind, Severity
from agent.guardrails.base import RenderedMessage
from agent.guardrails.offers import (
    allowed_offer_for,
    check_code,
    check_discount,
    check_review_reward,
    ladder_step_for,
)
from tests.guardrails.factories import (
    make_brand,
    make_context,
    make_fields,
    make_input,
    make_line,
    make_order,
)

OFFER = "10% off your next order"


def _context_spending(amount: str, **overrides):
    line = make_line(quantity=1, unit_price=Decimal(amount))
    return make_context(orders=[make_order(line)], **overrides)


# --- allowed_offer_for -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spend", "offer"),
    [
        ("0.00", None),
        ("49.99", None),
        ("50.00", "10% off your next order"),
        ("199.99", "10% off your next order"),
        ("200.00", "15% off your next order"),
        ("5000.00", "15% off your next order"),
    ],
)
def test_allowed_offer_follows_ladder(spend: str, offer: str | None) -> None:
    assert allowed_offer_for(_context_spending(spend), make_brand()) == offer


def test_allowed_offer_ignores_ladder_order() -> None:
    brand = make_brand()
    brand.incentive_ladder.reverse()
    assert allowed_offer_for(_context_spending("250"), brand) == "15% off your next order"


def test_allowed_offer_skips_cancelled_orders() -> None:
    context = _context_spending("300")
    context.orders[0].status = "cancelled"
    assert allowed_offer_for(context, make_brand()) is None


def test_allowed_offer_none_below_lowest_rung() -> None:
    brand = make_brand(
        incentive_ladder=[IncentiveStep(segment="vip", min_lifetime_spend=Decimal("100"))]
    )
    assert ladder_step_for(_context_spending("20"), brand) is None


def test_allowed_offer_none_without_ladder() -> None:
    assert allowed_offer_for(_context_spending("500"), make_brand(incentive_ladder=[])) is None


# --- offers.discount -------------------------------------------------------------------------


def _discount(body: str, kind: MessageKind, allowed_offer: str | None = None, **overrides):
    fields = make_fields(body=body)
    inp = make_input(fields=fields, kind=kind, allowed_offer=allowed_offer, **overrides)
    return check_discount(inp)


@pytest.mark.parametrize(
    "wording",
    [
        "Enjoy 10% off today.",
        "Get 20 percent off today.",
        "Take £5 off your basket.",
        "Save £5.50 now.",
        "Enjoy free delivery this week.",
        "Enjoy free next-day shipping.",
        "Everything is half price.",
        "A special discount for you.",
        "Our SALE starts now.",
        "Here is a voucher for you.",
    ],
)
def test_discount_blocks_transactional_offer(wording: str) -> None:
    findings = _discount(wording, MessageKind.ORDER_FOLLOWUP)
    assert len(findings) == 1
    assert findings[0].check_id == "offers.discount"
    assert findings[0].severity is Severity.BLOCK
    assert "never promote or discount" in findings[0].message


def test_discount_blocks_even_allowed_offer_in_transactional() -> None:
    findings = _discount(f"Enjoy {OFFER}.", MessageKind.USAGE_TIP, allowed_offer=OFFER)
    assert [f.severity for f in findings] == [Severity.BLOCK]


def test_discount_passes_plain_transactional() -> None:
    assert _discount("Your order has shipped and is on its way.", MessageKind.ORDER_FOLLOWUP) == []


@pytest.mark.parametrize(
    "near_miss",
    [
        "Our wholesale range is back.",
        "It is 100% cotton.",
        "Salesforce is not us.",
        "A salesperson will call.",
    ],
)
def test_discount_ignores_near_misses(near_miss: str) -> None:
    assert _discount(near_miss, MessageKind.ORDER_FOLLOWUP) == []


def test_discount_allows_exact_offer_in_marketing() -> None:
    assert _discount(f"We miss you, so enjoy {OFFER}.", MessageKind.WINBACK, OFFER) == []


def test_discount_allows_offer_across_line_break() -> None:
    body = "We miss you, so enjoy 10% off\nyour next order."
    assert _discount(body, MessageKind.WINBACK, OFFER) == []


def test_discount_blocks_different_amount_in_marketing() -> None:
    findings = _discount("Enjoy 15% off your next order.", MessageKind.WINBACK, OFFER)
    assert len(findings) == 1
    assert findings[0].severity is Severity.BLOCK
    assert findings[0].span == "15% off your next order"
    assert f"{OFFER!r}" in findings[0].message
    assert findings[0].field == "body"


def test_discount_blocks_offer_in_other_case() -> None:
    findings = _discount("Enjoy 10% OFF YOUR NEXT ORDER.", MessageKind.WINBACK, OFFER)
    assert [f.span for f in findings] == ["10% OFF YOUR NEXT ORDER"]


def test_discount_blocks_extra_offer_beside_allowed_one() -> None:
    findings = _discount(f"Enjoy {OFFER} and free delivery.", MessageKind.WINBACK, OFFER)
    assert [f.span for f in findings] == ["free delivery"]


def test_discount_names_segment_without_offer() -> None:
    findings = _discount("Enjoy 10% off.", MessageKind.WINBACK, None)
    assert len(findings) == 1
    assert "'new' has no offer" in findings[0].message


def test_discount_says_no_rung_applies() -> None:
    brand = make_brand(incentive_ladder=[])
    findings = _discount("Enjoy 10% off.", MessageKind.WINBACK, None, brand=brand)
    assert "no rung" in findings[0].message


def test_discount_scans_subject() -> None:
    fields = make_fields(subject="Half price for you")
    findings = check_discount(make_input(fields=fields, kind=MessageKind.ORDER_FOLLOWUP))
    assert [f.field for f in findings] == ["subject"]


def test_discount_scans_html_only_text() -> None:
    rendered = RenderedMessage(
        text="Hello,\nThanks.", subject="Thanks", html="<p>Thanks</p><p>&pound;5 off today</p>"
    )
    findings = check_discount(make_input(rendered=rendered))
    assert [f.span for f in findings] == ["£5 off"]
    assert findings[0].field is None


def test_discount_ignores_html_markup() -> None:
    rendered = RenderedMessage(
        text="Hello,\nThanks.", subject="Thanks", html='<p class="sale">Thanks</p>'
    )
    assert check_discount(make_input(rendered=rendered)) == []


def test_discount_reports_repeat_once() -> None:
    findings = _discount("Half price! Yes, half price.", MessageKind.ORDER_FOLLOWUP)
    assert len(findings) == 1


# --- offers.code -----------------------------------------------------------------------------


def _code(body: str, **overrides):
    return check_code(make_input(fields=make_fields(body=body), **overrides))


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("Use code SAVE10 at checkout.", "SAVE10"),
        ("Use WELCOME20 at checkout.", "WELCOME20"),
        ("Enter code: WELCOME at checkout.", "WELCOME"),
        ("Your voucher code is save10.", "save10"),
        ("Try BACK-2-YOU today.", "BACK-2-YOU"),
    ],
)
def test_code_blocks_invented_code(body: str, code: str) -> None:
    findings = _code(body)
    assert [f.span for f in findings] == [code]
    assert findings[0].check_id == "offers.code"
    assert findings[0].severity is Severity.BLOCK
    assert findings[0].field == "body"
    assert "{{offer_code}}" in findings[0].suggestion


def test_code_allows_platform_placeholder() -> None:
    assert _code("Use code {{offer_code}} at checkout.") == []


def test_code_ignores_plain_words_after_code() -> None:
    assert _code("Use the code below at checkout.") == []


@pytest.mark.parametrize("token", ["10AM", "2ND", "STOP", "UK"])
def test_code_ignores_non_code_tokens(token: str) -> None:
    assert _code(f"We open at {token} every day.") == []


def test_code_ignores_postcode_and_stock_code() -> None:
    body = "Your 85123A ships from YO1 8AB."
    assert _code(body) == []


def test_code_ignores_link_tokens() -> None:
    rendered = RenderedMessage(
        text="Hello,\nhttps://hearthandtwine.example/unsubscribe/AB12CD34", subject="Hi"
    )
    assert check_code(make_input(rendered=rendered)) == []


def test_code_reports_repeat_once() -> None:
    assert len(_code("Use SAVE10. Yes, SAVE10.")) == 1


def test_code_allows_brand_allow_list() -> None:
    brand = make_brand(offer_codes=["WELCOME20"])
    assert _code("Use WELCOME20 at checkout.", brand=brand) == []
    assert _code("Use code welcome20 at checkout.", brand=brand) == []


def test_code_allow_list_admits_only_listed_codes() -> None:
    brand = make_brand(offer_codes=["WELCOME20"])
    findings = _code("Use WELCOME20 or SAVE10 at checkout.", brand=brand)
    assert [f.span for f in findings] == ["SAVE10"]
    assert "offer_codes" in findings[0].message


# --- offers.review_reward --------------------------------------------------------------------


def _reward(body: str, kind: MessageKind = MessageKind.REVIEW_REQUEST, **overrides):
    fields = make_fields(body=body)
    return check_review_reward(make_input(fields=fields, kind=kind, **overrides))


@pytest.mark.parametrize(
    "wording",
    [
        "Leave a review and get 10% off your next order.",
        "Review us to enter our prize draw.",
        "Every review is an entry into a monthly draw.",
        "Review today for a chance to win a hamper.",
        "Write a review and receive a free gift.",
        "Reviews earn 50 points.",
        "We send a gift card in return for your review.",
    ],
)
def test_review_reward_blocks_incentive(wording: str) -> None:
    findings = _reward(wording)
    assert len(findings) >= 1
    assert {f.check_id for f in findings} == {"offers.review_reward"}
    assert all(f.severity is Severity.BLOCK for f in findings)


def test_review_reward_blocks_allowed_offer_too() -> None:
    findings = _reward(f"Leave a review and enjoy {OFFER}.", allowed_offer=OFFER)
    assert [f.span for f in findings] == ["10% off your next order"]


def test_review_reward_passes_plain_request() -> None:
    assert _reward("We would love to hear what you think of your order.") == []


def test_review_reward_ignores_other_kinds() -> None:
    assert _reward("Enter our prize draw.", kind=MessageKind.WINBACK) == []


def test_review_reward_ignores_near_miss() -> None:
    assert _reward("It was a rewarding project, and we drew the designs by hand.") == []


def test_code_keyword_does_not_reach_past_placeholder() -> None:
    assert _code("Code: {{offer_code}} WELCOME home.") == []
