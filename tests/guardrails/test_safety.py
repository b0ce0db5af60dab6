from __future__ import annotations

import pytest

from agent.domain import Severity
from agent.guardrails.safety import (
    PROFANITY_EXCEPTIONS,
    check_legal_claim,
    check_medical_claim,
    check_profanity,
    profanity_index,
)
from tests.guardrails.factories import (
    ids,
    make_context,
    make_fields,
    make_input,
    make_line,
    make_order,
)


def _body(body: str, **overrides):
    return make_input(fields=make_fields(body=body), **overrides)


# --- safety.profanity ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "span"),
    [
        ("Thank you for your order, this holder is the shit.", "shit"),
        ("Honestly, what the FUCK happened to the parcel.", "FUCK"),
        ("Only an idiot would miss this.", "idiot"),
        ("Shut up and enjoy your mug.", "Shut up"),
        ("That was bloody quick.", "bloody"),
    ],
)
def test_profanity_blocks(body: str, span: str) -> None:
    findings = check_profanity(_body(body))
    assert len(findings) == 1
    assert findings[0].check_id == "safety.profanity"
    assert findings[0].severity is Severity.BLOCK
    assert findings[0].span == span
    assert findings[0].field == "body"


@pytest.mark.parametrize(
    "body",
    [
        "Thanks for your order from Scunthorpe.",
        "We hope the class assessment went well.",
        "Pop the bulbs in a plant pot by the window.",
        "Snuff the wick instead of blowing it out.",
        "Our new maxi dress comes in nude and hemp.",
        "Thanks for shopping with us.",
    ],
)
def test_profanity_passes_ordinary_words(body: str) -> None:
    assert check_profanity(_body(body)) == []


def test_profanity_allows_customer_name() -> None:
    context = make_context(first_name="Dick")
    assert check_profanity(_body("We hope you like it, Dick.", context=context)) == []


def test_profanity_allows_bought_product_words() -> None:
    line = make_line("PUSSY CAT BOWL", "22000")
    context = make_context(orders=[make_order(line)])
    assert check_profanity(_body("We hope the pussy cat bowl is a hit.", context=context)) == []


def test_profanity_reports_each_word_once_per_field() -> None:
    findings = check_profanity(_body("Crap, crap and more crap."))
    assert len(findings) == 1


def test_profanity_checks_every_field() -> None:
    fields = make_fields(subject="Damn fine mugs", body="You idiot.")
    findings = check_profanity(make_input(fields=fields))
    assert [f.field for f in findings] == ["subject", "body"]


def test_profanity_index_built_once() -> None:
    assert profanity_index() is profanity_index()


def test_profanity_exceptions_not_indexed() -> None:
    index = profanity_index()
    assert ("pot",) not in index
    assert ("shit",) in index
    assert "pot" in PROFANITY_EXCEPTIONS


# --- safety.medical_claim ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "span"),
    [
        ("The candle light cures anxiety and insomnia.", "cures"),
        ("The lavender scent heals tired minds.", "heals"),
        ("Our balm is clinically proven to help.", "clinically proven"),
        ("A hot water bottle relieves back pain.", None),
        ("The bottle soothes arthritis on cold nights.", "soothes arthritis"),
        ("It boosts your immune system.", "boosts your immune system"),
        ("A detox for your home.", "detox"),
        ("Doctor-recommended comfort.", "Doctor-recommended"),
    ],
)
def test_medical_claim_blocks(body: str, span: str | None) -> None:
    findings = check_medical_claim(_body(body))
    assert ids(findings) == ["safety.medical_claim"]
    assert findings[0].severity is Severity.BLOCK
    if span is not None:
        assert findings[0].span == span


@pytest.mark.parametrize(
    "body",
    [
        "Wash the bottle in warm soapy water.",
        "Keep the candle away from curtains.",
        "We hope it brings a little comfort on cold evenings.",
        "The heels of the boots are leather.",
    ],
)
def test_medical_claim_passes_care_tips(body: str) -> None:
    assert check_medical_claim(_body(body)) == []


# --- safety.legal_claim --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "You are legally entitled to a full refund at any time.",
        "Your refund is legally guaranteed.",
        "You are entitled by law to a replacement.",
        "By law, you can return anything.",
        "Under UK law we must refund you.",
        "This does not affect your statutory rights.",
        "We will take legal action.",
    ],
)
def test_legal_claim_blocks(body: str) -> None:
    findings = check_legal_claim(_body(body))
    assert ids(findings) == ["safety.legal_claim"]
    assert findings[0].severity is Severity.BLOCK
    assert findings[0].field == "body"


@pytest.mark.parametrize(
    "body",
    [
        "You can return unused items within 30 days.",
        "Let us know if anything is wrong and we will put it right.",
        "Thanks for your order.",
    ],
)
def test_legal_claim_passes_plain_policy(body: str) -> None:
    assert check_legal_claim(_body(body)) == []
