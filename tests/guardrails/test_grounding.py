from __future__ import annotations

import pytest

from agent.domain import Channel, Severity
from agent.guardrails.base import RenderedMessage
from agent.guardrails.grounding import (
    check_greeting,
    check_names,
    check_numbers,
    check_products,
)
from tests.guardrails.factories import (
    make_brand,
    make_context,
    make_fields,
    make_input,
    make_line,
    make_order,
)


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
