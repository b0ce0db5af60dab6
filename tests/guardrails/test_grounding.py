from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from agent.domain import Channel, MessageKind, Severity
from agent.drafting.render import render_message
from agent.guardrails.base import RenderedMessage
from agent.guardrails.grounding import (
    check_greeting,
    check_names,
    check_numbers,
    check_products,
    greeting_name,
)
from agent.loyalty.models import ExpiringPoints, LoyaltyAccount
from tests.guardrails.factories import (
    make_brand,
    make_context,
    make_fields,
    make_input,
    make_line,
    make_order,
)

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


def _greeting_input(first_name: str | None, text: str):
    context = make_context(first_name=first_name)
    return make_input(context=context, rendered=RenderedMessage(text=text, subject="Hi"))


# --- grounding.greeting ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Zoë", "José", "Siobhán", "Mary-Jane", "O'Neil", "Łucja"])
def test_greeting_accepts_unicode_first_name(name: str) -> None:
    inp = _greeting_input(name, f"Hi {name},\n\nThanks for your order.")
    assert check_greeting(inp) == []


def test_greeting_ignores_case_difference() -> None:
    inp = _greeting_input("zoë", "Hi Zoë,\nThanks.")
    assert check_greeting(inp) == []


def test_greeting_matches_decomposed_accent() -> None:
    inp = _greeting_input("Jose\u0301", "Hi Jos\u00e9,\nThanks.")
    assert check_greeting(inp) == []


def test_greeting_matches_curly_apostrophe() -> None:
    inp = _greeting_input("O'Neil", "Hi O\u2019Neil,\nThanks.")
    assert check_greeting(inp) == []


def test_greeting_neutral_without_first_name() -> None:
    inp = _greeting_input(None, "Hello,\nThanks for your order.")
    assert check_greeting(inp) == []


def test_greeting_blank_first_name_counts_as_missing() -> None:
    inp = _greeting_input("   ", "Hello,\nThanks.")
    assert check_greeting(inp) == []


def test_greeting_skips_leading_blank_lines() -> None:
    inp = _greeting_input("Zoë", "\n\nHi Zoë,\nThanks.")
    assert check_greeting(inp) == []


@pytest.mark.parametrize("placeholder", ["None", "null", "NULL", "{first_name}", "nan"])
def test_greeting_blocks_placeholder(placeholder: str) -> None:
    findings = check_greeting(_greeting_input(None, f"Hi {placeholder},\nThanks."))
    assert [f.severity for f in findings] == [Severity.BLOCK]
    assert placeholder in findings[0].message


def test_greeting_blocks_placeholder_when_name_known() -> None:
    findings = check_greeting(_greeting_input("Zoë", "Hi None,\nThanks."))
    assert [f.severity for f in findings] == [Severity.BLOCK]


def test_greeting_blocks_empty_name() -> None:
    findings = check_greeting(_greeting_input("Zoë", "Hi ,\nThanks."))
    assert len(findings) == 1
    assert findings[0].severity is Severity.BLOCK
    assert "empty" in findings[0].message
    assert findings[0].span == "Hi ,"


def test_greeting_blocks_other_name() -> None:
    findings = check_greeting(_greeting_input("Zoë", "Hi Sarah,\nThanks."))
    assert len(findings) == 1
    assert findings[0].check_id == "grounding.greeting"
    assert findings[0].severity is Severity.BLOCK
    assert "'Sarah'" in findings[0].message
    assert findings[0].field is None


def test_greeting_blocks_near_miss_name() -> None:
    findings = check_greeting(_greeting_input("Zoë", "Hi Zoe,\nThanks."))
    assert [f.severity for f in findings] == [Severity.BLOCK]


def test_greeting_blocks_name_when_none_on_record() -> None:
    findings = check_greeting(_greeting_input(None, "Hi Sarah,\nThanks."))
    assert [f.severity for f in findings] == [Severity.BLOCK]
    assert "no first name" in findings[0].message


def test_greeting_warns_neutral_when_name_known() -> None:
    findings = check_greeting(_greeting_input("Zoë", "Hello,\nThanks."))
    assert [f.severity for f in findings] == [Severity.WARN]


def test_greeting_message_omits_customer_name() -> None:
    findings = check_greeting(_greeting_input("Zoë", "Hi Sarah,\nThanks."))
    assert "Zoë" not in findings[0].message


def test_greeting_absent_has_nothing_to_check() -> None:
    inp = _greeting_input("Zoë", "Thanks for your order.")
    assert check_greeting(inp) == []


def test_greeting_on_sms_line() -> None:
    inp = _greeting_input("Zoë", "Hi Sarah, your order has shipped.")
    assert [f.severity for f in check_greeting(inp)] == [Severity.BLOCK]


# --- grounding.names ---------------------------------------------------------------------


def _names(body: str, **context_overrides):
    context = make_context(**context_overrides)
    fields = make_fields(body=body)
    return check_names(make_input(context=context, fields=fields))


def test_names_passes_plain_copy() -> None:
    assert _names("Thanks for your order. We hope you love it.") == []


def test_names_warns_on_unknown_name() -> None:
    findings = _names("Thanks for your order, Sarah will pack it today.")
    assert len(findings) == 1
    assert findings[0].check_id == "grounding.names"
    assert findings[0].severity is Severity.WARN
    assert findings[0].field == "body"
    assert findings[0].span == "Sarah"


def test_names_skips_sentence_start() -> None:
    assert _names("Sarah packed it. Thanks again.") == []


def test_names_skips_pronoun_i() -> None:
    assert _names("Thanks, I hope you love it and I'm sure you will.") == []


def test_names_allows_customer_first_name() -> None:
    assert _names("Thanks so much, Siobhán, for your order.", first_name="Siobhán") == []


def test_names_allows_brand_words() -> None:
    assert _names("Everyone at Hearth and Twine says thanks.") == []


def test_names_allows_product_words_in_any_case() -> None:
    assert _names("We hope the Rain Poncho keeps you dry.") == []


def test_names_allows_months_and_weekdays() -> None:
    assert _names("It should arrive by Friday in December.") == []


def test_names_allows_family_name() -> None:
    assert _names("Our Candle Holders look best in pairs.") == []


def test_names_allows_country() -> None:
    assert _names("We ship across the United Kingdom.") == []


def test_names_reports_each_word_once() -> None:
    findings = _names("Thanks from Paris, and from Paris again.")
    assert [f.span for f in findings] == ["Paris"]


def test_names_checks_every_field() -> None:
    fields = make_fields(subject="A note from Bob", call_to_action="Visit Rome")
    findings = check_names(make_input(fields=fields))
    assert [(f.field, f.span) for f in findings] == [("subject", "Bob"), ("call_to_action", "Rome")]


def test_names_flags_unicode_name() -> None:
    findings = _names("Your parcel was packed by Åsa today.")
    assert [f.span for f in findings] == ["Åsa"]


# --- grounding.products ------------------------------------------------------------------


def _products(body: str, subject: str = "Your order", **overrides):
    fields = make_fields(body=body, subject=subject)
    return check_products(make_input(fields=fields, **overrides))


def test_products_allows_own_products() -> None:
    assert _products("We hope the white hanging heart t-light holder glows.") == []


def test_products_allows_subphrase_of_own_product() -> None:
    # "RAIN PONCHO" and "HEART T-LIGHT HOLDER" are catalogue items inside the customer's own.
    assert _products("Enjoy the rain poncho and the heart t-light holder.") == []


def test_products_template_product_list_passes() -> None:
    findings = check_products(make_input())
    assert findings == []


def test_products_blocks_product_not_bought() -> None:
    findings = _products("You might also like the Jumbo Bag Red Retrospot.")
    assert len(findings) == 1
    assert findings[0].check_id == "grounding.products"
    assert findings[0].severity is Severity.BLOCK
    assert "'JUMBO BAG RED RETROSPOT'" in findings[0].message
    assert findings[0].field == "body"
    assert findings[0].span == "Jumbo Bag Red Retrospot"


def test_products_blocks_product_in_subject() -> None:
    findings = _products("Thanks.", subject="Pair it with a regency cakestand 3 tier")
    assert [f.field for f in findings] == ["subject"]


def test_products_reports_outermost_match_only() -> None:
    findings = _products("Try the pink hanging heart t-light holder too.")
    assert [f.span for f in findings] == ["pink hanging heart t-light holder"]


def test_products_ignores_punctuation_and_spacing() -> None:
    findings = _products("Try the jumbo  bag, red retrospot.")
    assert [f.span for f in findings] == ["jumbo  bag, red retrospot"]


def test_products_needs_whole_words() -> None:
    assert _products("The rain ponchos are lovely.", context=make_context(orders=[])) == []


def test_products_ignores_single_word_entries() -> None:
    context = make_context(orders=[make_order(make_line("REGENCY CAKESTAND 3 TIER"))])
    assert _products("Wipe your feet on the doormat and enjoy a mug of tea.", context=context) == []


def test_products_ignores_everyday_phrases() -> None:
    assert _products("We are sorry the parcel got mixed up and arrived water damaged.") == []


def test_products_flags_longer_name_than_own() -> None:
    context = make_context(orders=[make_order(make_line("DOORMAT"))])
    findings = _products("Your doormat hearts will look great.", context=context)
    assert [f.span for f in findings] == ["doormat hearts"]


def test_products_does_not_match_across_lines() -> None:
    context = make_context(orders=[make_order(make_line("REGENCY CAKESTAND 3 TIER"))])
    rendered = RenderedMessage(text="Hello,\nwe packed your rain\nponcho today.", subject="Hi")
    inp = make_input(context=context, rendered=rendered)
    assert check_products(inp) == []


def test_products_allows_brand_name_and_address() -> None:
    brand = make_brand(name="Rain Poncho Co", postal_address="1 Jumbo Bag Red Retrospot, York")
    context = make_context(orders=[make_order(make_line("REGENCY CAKESTAND 3 TIER"))])
    text = "Hello,\nThanks from Rain Poncho Co.\n1 Jumbo Bag Red Retrospot, York"
    rendered = RenderedMessage(text=text, subject="Hi")
    assert check_products(make_input(brand=brand, context=context, rendered=rendered)) == []


def test_products_skips_without_catalogue() -> None:
    assert _products("Try the jumbo bag red retrospot.", catalogue=frozenset()) == []


def test_products_reports_each_product_once() -> None:
    findings = _products("Jumbo bag red retrospot, jumbo bag red retrospot.")
    assert len(findings) == 1


# --- grounding.numbers -------------------------------------------------------------------


def _numbers(body: str, allowed_offer: str | None = None):
    fields = make_fields(body=body)
    return check_numbers(make_input(fields=fields, allowed_offer=allowed_offer))


def test_numbers_passes_copy_without_digits() -> None:
    assert _numbers("Thanks for your order.") == []


def test_numbers_allows_offer_numbers() -> None:
    assert _numbers("Enjoy 10% off your next order.", "10% off your next order") == []


def test_numbers_blocks_other_number() -> None:
    findings = _numbers("It arrives in 2 days.")
    assert len(findings) == 1
    assert findings[0].check_id == "grounding.numbers"
    assert findings[0].severity is Severity.BLOCK
    assert findings[0].span == "2"
    assert findings[0].field == "body"
    assert "no offer" in findings[0].message


def test_numbers_blocks_number_near_offer() -> None:
    findings = _numbers("Enjoy 15% off your next order.", "10% off your next order")
    assert [f.span for f in findings] == ["15"]
    assert "'10% off your next order'" in findings[0].message


def test_numbers_keeps_decimal_together() -> None:
    assert [f.span for f in _numbers("Only 4.99 today.")] == ["4.99"]


def test_numbers_ignores_platform_placeholder_digits() -> None:
    assert _numbers("Use {{offer_code2}} at checkout.") == []


def test_numbers_report_each_number_once_per_field() -> None:
    assert len(_numbers("Pick 3, then 3 more.")) == 1


def test_greeting_blocks_empty_name_without_record() -> None:
    findings = check_greeting(_greeting_input(None, "Hi ,\nThanks."))
    assert [f.severity for f in findings] == [Severity.BLOCK]


def test_names_ignores_letters_inside_codes() -> None:
    assert _names("Thanks, use SAVE10 today.") == []


def test_greeting_after_sms_sender_prefix() -> None:
    context = make_context(first_name="Zoë")
    rendered = RenderedMessage(text="HearthTwine: Hi Sarah, your order has shipped.")
    inp = make_input(context=context, channel=Channel.SMS, rendered=rendered)
    assert [f.severity for f in check_greeting(inp)] == [Severity.BLOCK]


def test_greeting_sms_prefix_with_right_name() -> None:
    rendered = RenderedMessage(text="HearthTwine: Hi Zoë, your order has shipped.")
    inp = make_input(channel=Channel.SMS, rendered=rendered)
    assert check_greeting(inp) == []


# --- grounding.greeting: scripts, markup and gifts ------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["D'Arcy", "Zoë", "太郎", "김민준", "مريم", "נועה", "Zoë 🌸", "Anne-Marie", "Ngozi"],
)
def test_greeting_accepts_any_script(name: str) -> None:
    assert check_greeting(_greeting_input(name, f"Hi {name},\nThanks.")) == []


def test_greeting_ignores_bidi_marks() -> None:
    inp = _greeting_input("مريم", "Hi \u200fمريم\u200f,\nThanks.")
    assert check_greeting(inp) == []


@pytest.mark.parametrize(
    "name", ["<b>Zoë</b>", "<script>alert(1)</script>", "Zo&euml;", "{{ first_name }}"]
)
def test_greeting_blocks_markup_name_on_record(name: str) -> None:
    findings = check_greeting(_greeting_input(name, f"Hi {name},\nThanks."))
    assert [f.severity for f in findings] == [Severity.BLOCK]
    assert "markup" in findings[0].message
    assert name not in findings[0].message


def test_greeting_blocks_markup_without_record() -> None:
    findings = check_greeting(_greeting_input(None, "Hi <i>there</i>,\nThanks."))
    assert [f.severity for f in findings] == [Severity.BLOCK]


def test_greeting_blocks_unescaped_name_in_html() -> None:
    name = "<b>Zoë</b>"
    context = make_context(first_name=name)
    rendered = RenderedMessage(text="Hello,\nThanks.", subject="Hi", html=f"<p>Hi {name},</p>")
    findings = check_greeting(make_input(context=context, rendered=rendered))
    assert len(findings) == 1
    assert findings[0].severity is Severity.BLOCK
    assert "HTML part" in findings[0].message
    assert name not in findings[0].message


def test_greeting_neutral_for_markup_name() -> None:
    assert check_greeting(_greeting_input("<b>Zoë</b>", "Hello,\nThanks.")) == []


def test_greeting_accepts_escaped_name_in_html() -> None:
    context = make_context(first_name="Tom & Jerry")
    html = "<p>Hi Tom &amp; Jerry,</p>"
    rendered = RenderedMessage(text="Hi Tom & Jerry,\nThanks.", subject="Hi", html=html)
    assert check_greeting(make_input(context=context, rendered=rendered)) == []


def test_email_renderer_escapes_name_in_html() -> None:
    name = "<script>alert(1)</script>"
    context = make_context(first_name=name)
    message = render_message(
        TEMPLATES_DIR,
        kind=MessageKind.ORDER_FOLLOWUP,
        channel=Channel.EMAIL,
        brand=make_brand(),
        context=context,
        fields=make_fields(),
    )
    assert message.html is not None
    assert "<script" not in message.html
    rendered = RenderedMessage(text="Hello,\nThanks.", subject="Hi", html=message.html)
    assert check_greeting(make_input(context=context, rendered=rendered)) == []


@pytest.mark.parametrize(
    ("first_name", "expected"),
    [
        ("Zoë", "Zoë"),
        ("  José ", "José"),
        (None, None),
        ("   ", None),
        ("None", None),
        ("{first_name}", None),
        ("<b>Zoë</b>", None),
        ("Zo&euml;", None),
    ],
)
def test_greeting_name_for_renderer(first_name: str | None, expected: str | None) -> None:
    assert greeting_name(make_context(first_name=first_name)) == expected


def test_greeting_blocks_gift_recipient() -> None:
    context = make_context(orders=[make_order(gift_recipient="Margaret")])
    rendered = RenderedMessage(text="Hi Margaret,\nThanks.", subject="Hi")
    findings = check_greeting(make_input(context=context, rendered=rendered))
    assert [f.severity for f in findings] == [Severity.BLOCK]
    assert "gift recipient" in findings[0].message


# --- grounding.names: gift recipients -------------------------------------------------------


def test_names_allow_gift_recipient() -> None:
    orders = [make_order(gift_recipient="Margaret")]
    assert _names("We hope Margaret loves her new holder.", orders=orders) == []


def test_names_flag_other_than_gift_recipient() -> None:
    orders = [make_order(gift_recipient="Margaret")]
    findings = _names("We hope Sarah loves her new holder.", orders=orders)
    assert [f.span for f in findings] == ["Sarah"]


# --- grounding.numbers: typed figures -------------------------------------------------------


def _figures(body: str, **overrides):
    return check_numbers(make_input(fields=make_fields(body=body), **overrides))


def test_numbers_allow_real_order_reference() -> None:
    assert _figures("Thanks for order 536365.") == []
    assert _figures("Thanks for order #536365.") == []


def test_numbers_block_invented_order_reference() -> None:
    findings = _figures("Thanks for order 999999.")
    assert [f.span for f in findings] == ["order 999999"]
    assert "order reference" in findings[0].message
    assert findings[0].field == "body"


@pytest.mark.parametrize("amount", ["£10.20", "£5.10", "£2.55", "10.20 GBP", "£10.2"])
def test_numbers_allow_amounts_from_orders(amount: str) -> None:
    # The default order has two lines of 2 x £2.55: lines of £5.10 and a total of £10.20.
    assert _figures(f"Your order of {amount} is on its way.") == []


@pytest.mark.parametrize("amount", ["£45.00", "€10.20", "$5.10", "12 pounds"])
def test_numbers_block_invented_amounts(amount: str) -> None:
    findings = _figures(f"Your order of {amount} is on its way.")
    assert [f.span for f in findings] == [amount]
    assert "amount" in findings[0].message


@pytest.mark.parametrize(
    "date",
    ["4 December", "4th December 2011", "December 1st, 2011", "1 Dec", "04/12/2011", "2011-12-04"],
)
def test_numbers_allow_dates_from_context(date: str) -> None:
    # The default order was placed on 1 December and delivered on 4 December 2011.
    assert _figures(f"We saw it arrive on {date}.") == []


@pytest.mark.parametrize("date", ["5 December", "4 December 2010", "December 25", "31/02/2011"])
def test_numbers_block_invented_dates(date: str) -> None:
    findings = _figures(f"We saw it arrive on {date}.")
    assert findings != []
    assert findings[0].span == date
    assert "date" in findings[0].message


def test_numbers_read_dates_month_first_for_us_brand() -> None:
    brand = make_brand(locale="en-US")
    assert _figures("It arrived on 12/04/2011.", brand=brand) == []
    assert _figures("It arrived on 04/12/2011.", brand=brand) != []


def test_numbers_block_loyalty_points() -> None:
    findings = _figures("You have 250 loyalty points to spend.")
    assert [f.span for f in findings] == ["250 loyalty points"]
    assert "loyalty balance" in findings[0].message


def test_numbers_leave_kept_policy_promise_alone() -> None:
    assert _figures("It should arrive within 3 working days.") == []


def test_numbers_still_block_broken_policy_promise() -> None:
    assert [f.span for f in _figures("It should arrive within 2 working days.")] == ["2"]


def test_numbers_check_rendered_template_figures() -> None:
    rendered = RenderedMessage(text="Hi Zoë,\nYour total was £99.00.\n", subject="Thanks")
    findings = check_numbers(make_input(rendered=rendered))
    assert [(f.field, f.span) for f in findings] == [(None, "£99.00")]
    assert findings[0].message.startswith("The message states")


def test_numbers_skip_figures_inside_product_names() -> None:
    line = make_line("GIFT VOUCHER £20.00", "GIFT_0001_20", unit_price=Decimal("16.67"))
    context = make_context(orders=[make_order(line)])
    rendered = RenderedMessage(text="Hi Zoë,\n- GIFT VOUCHER £20.00\n", subject="Thanks")
    assert check_numbers(make_input(context=context, rendered=rendered)) == []


def test_numbers_report_field_figure_once() -> None:
    fields = make_fields(body="Your order of £45.00 is on its way.")
    findings = check_numbers(make_input(fields=fields))
    assert [f.span for f in findings] == ["£45.00"]


@pytest.mark.parametrize("name", ["Siobhán", "王芳", "Sam 🌟"])
def test_greeting_neutral_sms_for_non_gsm_name(name: str) -> None:
    context = make_context(first_name=name)
    rendered = RenderedMessage(text="HearthTwine: Hello, your order has shipped.")
    inp = make_input(context=context, channel=Channel.SMS, rendered=rendered)
    assert check_greeting(inp) == []


def test_greeting_neutral_sms_warns_for_gsm_name() -> None:
    context = make_context(first_name="José")
    rendered = RenderedMessage(text="HearthTwine: Hello, your order has shipped.")
    inp = make_input(context=context, channel=Channel.SMS, rendered=rendered)
    assert [f.severity for f in check_greeting(inp)] == [Severity.WARN]


def _loyal_context(balance: int = 250):
    account = LoyaltyAccount(
        brand="hearth",
        program="Hearth Rewards",
        as_of=datetime(2011, 12, 20, 10, 0, tzinfo=UTC),
        derived=False,
        balance=balance,
        tier="silver",
        tier_name="Silver",
        qualifying_points=400,
        next_tier="gold",
        next_tier_name="Gold",
        points_to_next_tier=100,
        expiring=[ExpiringPoints(expires_at=datetime(2012, 1, 5, 0, 0, tzinfo=UTC), points=50)],
    )
    return make_context(loyalty=account)


@pytest.mark.parametrize(
    "body",
    [
        "You have 250 points to spend.",
        "Only 100 points to Gold.",
        "50 points expire on 5 January.",
    ],
)
def test_numbers_allow_loyalty_figures(body: str) -> None:
    assert _figures(body, context=_loyal_context()) == []


def test_numbers_block_wrong_loyalty_balance() -> None:
    findings = _figures("You have 300 points to spend.", context=_loyal_context())
    assert [f.span for f in findings] == ["300 points"]


def test_names_allow_loyalty_tier_names() -> None:
    findings = check_names(
        make_input(context=_loyal_context(), fields=make_fields(body="Only 100 points to Gold."))
    )
    assert findings == []
