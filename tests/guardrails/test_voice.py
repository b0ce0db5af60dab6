from __future__ import annotations

import re

import pytest

from agent.domain import Channel, Severity
from agent.guardrails.voice import (
    BODY_MAX_CHARS,
    CALL_TO_ACTION_MAX_CHARS,
    READING_MIN_WORDS,
    SUBJECT_MAX_CHARS,
    check_banned_phrases,
    check_capitals,
    check_exclamation,
    check_length,
    check_reading_level,
    check_repetition,
    count_exclamations,
    shouted_runs,
)
from tests.guardrails.factories import ids, make_brand, make_fields, make_input, make_sms_input


def _banned(**fields: str):
    return check_banned_phrases(make_input(fields=make_fields(**fields)))


# --- voice.banned_phrases --------------------------------------------------------------------


def test_banned_passes_clean_copy() -> None:
    assert _banned() == []


def test_banned_blocks_phrase() -> None:
    findings = _banned(body="Act now before it is gone.")
    assert len(findings) == 1
    assert findings[0].check_id == "voice.banned_phrases"
    assert findings[0].severity is Severity.BLOCK
    assert findings[0].field == "body"
    assert findings[0].span == "Act now"
    assert "'act now'" in findings[0].message


def test_banned_ignores_case() -> None:
    assert [f.span for f in _banned(subject="ACT NOW")] == ["ACT NOW"]


def test_banned_matches_curly_apostrophe() -> None:
    assert [f.span for f in _banned(body="Don\u2019t miss out on this.")] == ["Don't miss out"]


def test_banned_matches_across_extra_spaces() -> None:
    assert len(_banned(body="Please act   now.")) == 1


def test_banned_needs_whole_phrase() -> None:
    assert _banned(body="We react nowhere near as fast.") == []


def test_banned_punctuation_phrase() -> None:
    assert [f.span for f in _banned(body="Wow!!! Thanks.")] == ["!!!"]


def test_banned_reports_each_field() -> None:
    findings = _banned(subject="Act now", call_to_action="Act now")
    assert [f.field for f in findings] == ["subject", "call_to_action"]


def test_banned_unicode_phrase() -> None:
    brand = make_brand(banned_phrases=["Très chic"])
    inp = make_input(brand=brand, fields=make_fields(body="So TRÈS CHIC."))
    assert [f.span for f in check_banned_phrases(inp)] == ["TRÈS CHIC"]


def test_banned_ignores_template_text() -> None:
    # The rendered footer is the brand's own text, so only model fields are checked.
    brand = make_brand(banned_phrases=["unsubscribe"])
    assert check_banned_phrases(make_input(brand=brand)) == []


# --- voice.length ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("subject", SUBJECT_MAX_CHARS),
        ("call_to_action", CALL_TO_ACTION_MAX_CHARS),
        ("body", BODY_MAX_CHARS),
    ],
)
def test_length_passes_at_limit(field: str, limit: int) -> None:
    inp = make_input(fields=make_fields(**{field: "x" * limit}))
    assert check_length(inp) == []


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("subject", SUBJECT_MAX_CHARS),
        ("call_to_action", CALL_TO_ACTION_MAX_CHARS),
        ("body", BODY_MAX_CHARS),
    ],
)
def test_length_warns_over_limit(field: str, limit: int) -> None:
    findings = check_length(make_input(fields=make_fields(**{field: "x" * (limit + 1)})))
    assert len(findings) == 1
    assert findings[0].check_id == "voice.length"
    assert findings[0].severity is Severity.WARN
    assert findings[0].field == field
    assert f"{limit + 1} characters" in findings[0].message


def test_length_counts_composed_characters() -> None:
    subject = "e\u0301" * SUBJECT_MAX_CHARS
    assert check_length(make_input(fields=make_fields(subject=subject))) == []


def test_length_skips_missing_fields() -> None:
    assert check_length(make_input(fields={"body": "Short."})) == []


def test_length_message_reads_field_label() -> None:
    findings = check_length(make_input(fields=make_fields(call_to_action="x" * 31)))
    assert findings[0].message.startswith("The call to action is 31 characters")


def test_repetition_blocks_repeated_run() -> None:
    body = (
        "We hope it is helping others find what they need. "
        "A few words would help others find what they need."
    )
    findings = check_repetition(make_input(fields=make_fields(body=body)))
    assert [f.check_id for f in findings] == ["voice.repetition"]
    assert findings[0].span == "others find what they"


def test_repetition_allows_short_repeats() -> None:
    body = "Thank you for your order. We hope your order arrived safely."
    assert check_repetition(make_input(fields=make_fields(body=body))) == []


# --- voice.length: brand limits -----------------------------------------------------------


def test_length_uses_brand_field_limit() -> None:
    brand = make_brand(field_max_chars={"body": 20})
    inp = make_input(brand=brand, fields=make_fields(body="a" * 21))
    findings = check_length(inp)
    assert [f.field for f in findings] == ["body"]
    assert "limit of 20" in findings[0].message


def test_length_channel_limit_wins_over_field_limit() -> None:
    brand = make_brand(field_max_chars={"body": 20, "sms/body": 100})
    sms = make_sms_input("x", brand=brand, fields={"body": "a" * 50})
    email = make_input(brand=brand, fields=make_fields(body="a" * 50))
    assert check_length(sms) == []
    assert ids(check_length(email)) == ["voice.length"]


def test_length_brand_limit_for_other_field() -> None:
    brand = make_brand(field_max_chars={"opening": 10})
    fields = make_fields(opening="A rather long opening line")
    assert ids(check_length(make_input(brand=brand, fields=fields))) == ["voice.length"]


@pytest.mark.parametrize("key", ["fax/body", "email/", "body"])
def test_brand_rejects_bad_limit_keys(key: str) -> None:
    limits = {key: 10} if key != "body" else {key: -1}
    with pytest.raises(ValueError, match=re.escape(repr(key))):
        make_brand(field_max_chars=limits)


# --- voice.exclamation ----------------------------------------------------------------------


def _exclaim(channel: Channel = Channel.EMAIL, brand=None, **fields: str):
    if channel is Channel.SMS:
        return check_exclamation(make_sms_input("x", brand=brand or make_brand(), fields=fields))
    return check_exclamation(make_input(brand=brand, fields=make_fields(**fields)))


def test_exclamation_allows_one_in_email() -> None:
    assert _exclaim(body="Thank you for your order!") == []


def test_exclamation_warns_over_message_limit() -> None:
    findings = _exclaim(body="Thank you for your order! We hope you love it! Enjoy!")
    assert len(findings) == 1
    assert findings[0].check_id == "voice.exclamation"
    assert findings[0].severity is Severity.WARN
    assert findings[0].field == "body"
    assert "at most 1 exclamation mark in this email" in findings[0].message
    assert "count to 3" in findings[0].message


def test_exclamation_counts_across_fields() -> None:
    findings = _exclaim(subject="Thanks!", body="We hope you love it!")
    assert [f.field for f in findings] == ["body"]


def test_exclamation_none_in_sms_by_default() -> None:
    findings = _exclaim(Channel.SMS, body="Your order is on its way!")
    assert ids(findings) == ["voice.exclamation"]
    assert "no exclamation marks in this sms" in findings[0].message


def test_exclamation_field_limit() -> None:
    brand = make_brand(field_max_exclamations={"subject": 0})
    findings = _exclaim(brand=brand, subject="Thanks!", body="We hope you love it.")
    assert [f.field for f in findings] == ["subject"]
    assert "in the subject" in findings[0].message


def test_exclamation_brand_message_limit() -> None:
    brand = make_brand(max_exclamations={Channel.EMAIL: 3})
    assert _exclaim(brand=brand, body="Yes! Really! Truly!") == []


@pytest.mark.parametrize(("text", "count"), [("Hi!", 1), ("Wow\u203c", 2), ("\uff01", 1), ("", 0)])
def test_count_exclamations(text: str, count: int) -> None:
    assert count_exclamations(text) == count


# --- voice.capitals -------------------------------------------------------------------------


def test_capitals_warns_shouted_run() -> None:
    fields = make_fields(body="Thank you for your order. WE HOPE YOU LOVE EVERY SINGLE PIECE.")
    findings = check_capitals(make_input(fields=fields))
    assert len(findings) == 1
    assert findings[0].check_id == "voice.capitals"
    assert findings[0].severity is Severity.WARN
    assert findings[0].span == "WE HOPE YOU LOVE EVERY SINGLE PIECE"
    assert findings[0].field == "body"


def test_capitals_allows_default_acronyms_and_brand_names() -> None:
    body = "Delivery across the UK and EU is OK; see the FAQ from HearthTwine."
    assert check_capitals(make_input(fields=make_fields(body=body))) == []


def test_capitals_allows_brand_acronym() -> None:
    brand = make_brand(allowed_acronyms=["RHS"])
    fields = make_fields(body="Our RHS award winners are back.")
    assert check_capitals(make_input(brand=brand, fields=fields)) == []


def test_capitals_single_letters_and_codes_pass() -> None:
    fields = make_fields(body="I think A grade pieces with SAVE10 and {{OFFER_CODE}} are fine.")
    assert check_capitals(make_input(fields=fields)) == []


def test_capitals_separate_runs() -> None:
    assert shouted_runs("HUGE news, and a BIG thank you", set()) == ["HUGE", "BIG"]


def test_capitals_other_scripts() -> None:
    assert shouted_runs("ΠΟΛΥ ωραίο", set()) == ["ΠΟΛΥ"]
    assert shouted_runs("ありがとう", set()) == []


# --- voice.reading_level --------------------------------------------------------------------

PLAIN = (
    "Thank you for your order. We hope the new holder looks lovely on your shelf. "
    "Light a candle, sit back and enjoy the warm glow on a cold night."
)
DENSE = (
    "Notwithstanding the aforementioned considerations, our organisation's comprehensive "
    "reimbursement methodology necessitates documentation substantiating eligibility for "
    "purchases transacted through authorised intermediaries and affiliated distributors."
)


def test_reading_level_passes_plain_copy() -> None:
    assert check_reading_level(make_input(fields=make_fields(body=PLAIN))) == []


def test_reading_level_warns_on_dense_copy() -> None:
    findings = check_reading_level(make_input(fields=make_fields(body=DENSE)))
    assert len(findings) == 1
    assert findings[0].check_id == "voice.reading_level"
    assert findings[0].severity is Severity.WARN
    assert "below the brand's minimum of 50" in findings[0].message


def test_reading_level_skips_short_fields() -> None:
    short = " ".join(DENSE.split()[: READING_MIN_WORDS - 1])
    assert check_reading_level(make_input(fields=make_fields(body=short))) == []


def test_reading_level_off_when_brand_sets_none() -> None:
    brand = make_brand(min_reading_ease=None)
    assert check_reading_level(make_input(brand=brand, fields=make_fields(body=DENSE))) == []


def test_reading_level_grade_bound() -> None:
    brand = make_brand(min_reading_ease=None, max_reading_grade=2)
    findings = check_reading_level(make_input(brand=brand, fields=make_fields(body=PLAIN)))
    assert ids(findings) == ["voice.reading_level"]
    assert "above the brand's maximum of 2" in findings[0].message
