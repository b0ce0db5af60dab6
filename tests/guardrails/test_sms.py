from __future__ import annotations

import pytest

from agent.domain import Channel, Severity
from agent.guardrails.base import RenderedMessage
from agent.guardrails.sms import (
    GSM7,
    UCS2,
    check_encoding,
    check_segments,
    count_sms,
    gsm_septets,
    max_units,
)
from tests.guardrails.factories import make_brand, make_input, make_sms_input

# --- character set ---------------------------------------------------------------------------


@pytest.mark.parametrize("character", ["a", "Z", "0", "@", "£", "$", "¥", "é", "Ä", "ñ", "ü", "\n"])
def test_gsm_basic_character_is_one_septet(character: str) -> None:
    assert gsm_septets(character) == 1


@pytest.mark.parametrize("character", list("^{}\\[~]|€") + ["\f"])
def test_gsm_extension_character_is_two_septets(character: str) -> None:
    assert gsm_septets(character) == 2


@pytest.mark.parametrize("character", ["ë", "á", "Ł", "`", "😊", "\u2019"])
def test_non_gsm_character_has_no_septets(character: str) -> None:
    assert gsm_septets(character) is None


# --- GSM-7 boundaries ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm_segments_at_boundaries(length: int, segments: int) -> None:
    count = count_sms("a" * length)
    assert count.encoding == GSM7
    assert count.units == length
    assert count.segments == segments


def test_extension_characters_fill_one_segment() -> None:
    count = count_sms("€" * 80)
    assert count.units == 160
    assert count.segments == 1


def test_extension_character_tips_over_single_segment() -> None:
    count = count_sms("a" * 159 + "€")
    assert count.units == 161
    assert count.segments == 2


def test_extension_character_not_split_between_parts() -> None:
    # 306 septets fit two parts only if the escape and its character could be split.
    count = count_sms("a" * 152 + "€" + "a" * 152)
    assert count.units == 306
    assert count.segments == 3


def test_extension_character_before_part_boundary_fits() -> None:
    count = count_sms("a" * 151 + "€" + "a" * 153)
    assert count.units == 306
    assert count.segments == 2


def test_empty_text_is_one_segment() -> None:
    count = count_sms("")
    assert count.units == 0
    assert count.segments == 1


# --- UCS-2 boundaries ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "segments"),
    [(70, 1), (71, 2), (134, 2), (135, 3)],
)
def test_ucs2_segments_at_boundaries(length: int, segments: int) -> None:
    count = count_sms("ë" * length)
    assert count.encoding == UCS2
    assert count.units == length
    assert count.segments == segments


def test_one_non_gsm_character_forces_ucs2() -> None:
    count = count_sms("a" * 69 + "ë")
    assert count.encoding == UCS2
    assert count.units == 70
    assert count.segments == 1
    assert count.non_gsm == ("ë",)


def test_emoji_counts_two_units() -> None:
    assert count_sms("😊" * 35).units == 70
    assert count_sms("😊" * 35).segments == 1
    assert count_sms("😊" * 36).segments == 2


def test_surrogate_pair_not_split_between_parts() -> None:
    count = count_sms("ë" * 66 + "😊" + "ë" * 66)
    assert count.units == 134
    assert count.segments == 3


def test_extension_character_counts_one_unit_in_ucs2() -> None:
    count = count_sms("€ë")
    assert count.encoding == UCS2
    assert count.units == 2


def test_non_gsm_characters_listed_once_in_order() -> None:
    assert count_sms("ë😊ëá").non_gsm == ("ë", "😊", "á")


# --- normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("It\u2019s here", "It's here"),
        ("\u2018hi\u2019", "'hi'"),
        ("\u201chi\u201d", '"hi"'),
        ("a\u2013b\u2014c", "a-b-c"),
        ("wait\u2026", "wait..."),
        ("10\u00a0am", "10 am"),
        ("Jose\u0301", "José"),
    ],
)
def test_normalization_keeps_gsm7(raw: str, normalized: str) -> None:
    count = count_sms(raw)
    assert count.normalized == normalized
    assert count.encoding == GSM7


def test_ellipsis_counts_three_septets() -> None:
    assert count_sms("\u2026").units == 3


def test_max_units() -> None:
    assert max_units(GSM7, 1) == 160
    assert max_units(GSM7, 2) == 306
    assert max_units(UCS2, 1) == 70
    assert max_units(UCS2, 3) == 201


# --- sms.segments ----------------------------------------------------------------------------


def test_segments_passes_within_limit() -> None:
    assert check_segments(make_sms_input("a" * 306)) == []


def test_segments_blocks_over_limit() -> None:
    findings = check_segments(make_sms_input("a" * 307))
    assert len(findings) == 1
    assert findings[0].check_id == "sms.segments"
    assert findings[0].severity is Severity.BLOCK
    assert "3 segments (GSM-7, 307 septets)" in findings[0].message
    assert "maximum of 2" in findings[0].message
    assert "306 septets" in findings[0].suggestion


def test_segments_uses_brand_limit() -> None:
    inp = make_sms_input("a" * 161, brand=make_brand(sms_max_segments=1))
    assert [f.check_id for f in check_segments(inp)] == ["sms.segments"]


def test_segments_names_forcing_character() -> None:
    text = "Hi Zoë, " + "a" * 130
    findings = check_segments(make_sms_input(text))
    assert len(findings) == 1
    assert "UCS-2" in findings[0].message
    assert "'ë'" in findings[0].message
    assert findings[0].span == "ë"
    assert findings[0].field == "body"


def test_segments_skips_email() -> None:
    rendered = RenderedMessage(text="a" * 1000, subject="Hi", html="<p>hi</p>")
    assert check_segments(make_input(rendered=rendered, channel=Channel.EMAIL)) == []


# --- sms.encoding ----------------------------------------------------------------------------


def test_encoding_warns_on_single_character() -> None:
    findings = check_encoding(make_sms_input("Thanks, Zoë. Your order is on its way."))
    assert len(findings) == 1
    assert findings[0].check_id == "sms.encoding"
    assert findings[0].severity is Severity.WARN
    assert findings[0].span == "ë"
    assert findings[0].field == "body"


def test_encoding_passes_gsm7() -> None:
    assert check_encoding(make_sms_input("It\u2019s on its way \u2014 enjoy!")) == []


def test_encoding_ignores_mostly_other_script() -> None:
    assert check_encoding(make_sms_input("Ευχαριστούμε για την παραγγελία")) == []


def test_encoding_locates_template_character() -> None:
    inp = make_sms_input("Hi Zoë, your order shipped.", fields={"body": "Your order shipped."})
    findings = check_encoding(inp)
    assert len(findings) == 1
    assert findings[0].field is None


def test_encoding_skips_email() -> None:
    rendered = RenderedMessage(text="Zoë", subject="Hi", html="<p>Zoë</p>")
    assert check_encoding(make_input(rendered=rendered, channel=Channel.EMAIL)) == []
