from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.domain import Channel, MessageKind, Severity
from agent.drafting.render import render_message
from agent.guardrails.base import RenderedMessage
from agent.guardrails.sms import (
    GSM7,
    UCS2,
    check_encoding,
    check_segments,
    count_sms,
    gsm_septets,
    max_units,
    normalise_sms,
)
from tests.guardrails.factories import make_brand, make_context, make_input, make_sms_input

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
    ("raw", "normalised"),
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
def test_normalisation_keeps_gsm7(raw: str, normalised: str) -> None:
    count = count_sms(raw)
    assert count.normalised == normalised
    assert count.encoding == GSM7


def test_ellipsis_counts_three_septets() -> None:
    assert count_sms("\u2026").units == 3


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("a\u2009b\u3000c", "a b c"),
        ("soft\u00adhyphen", "softhyphen"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("\u00abquoted\u00bb", '"quoted"'),
        ("5\u2032 2\u2033", "5' 2\""),
        ("A\u030a", "\u00c5"),
        ("\u212b", "\u00c5"),
    ],
)
def test_normalise_sms_cases(raw: str, normalised: str) -> None:
    assert normalise_sms(raw) == normalised


def test_normalise_keeps_ellipsis_in_ucs2_text() -> None:
    # "..." would add two UCS-2 units; the emoji keeps the text in UCS-2 anyway.
    assert normalise_sms("Soon\u2026 \U0001f60a") == "Soon\u2026 \U0001f60a"


def test_normalise_keeps_ellipsis_that_would_add_segment() -> None:
    text = "\u2026" * 70
    assert normalise_sms(text) == text
    assert count_sms(text).segments == 1


def test_normalise_keeps_decomposing_character() -> None:
    # NFC turns U+0958 into two characters, so composing it would add a unit.
    assert normalise_sms("\u0958") == "\u0958"


def test_normalise_keeps_emoji_joiner() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert normalise_sms(family) == family


# --- properties of counting and normalisation ---------------------------------------------

# The GSM 03.38 default alphabet without the escape, and its extension table (3GPP TS 23.038).
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "\f^{}\\[~]|€"
gsm_text = st.text(alphabet=GSM_BASIC + GSM_EXTENSION, max_size=500)
punctuation = "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00a0\u202f\u00ad\u0301\u030a"
mixed_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(GSM_BASIC + GSM_EXTENSION + punctuation),
        st.characters(codec="utf-8"),
    ),
    max_size=400,
)


def _expected_segments(units: int, single: int, part: int) -> int:
    return 1 if units <= single else -(-units // part)


@given(gsm_text)
def test_gsm_text_counts_septets_exactly(text: str) -> None:
    count = count_sms(text)
    assert count.encoding == GSM7
    assert count.normalised == text
    assert count.units == len(text) + sum(ch in GSM_EXTENSION for ch in text)


@given(st.text(alphabet=GSM_BASIC, max_size=700))
def test_basic_gsm_segments_follow_160_153(text: str) -> None:
    assert count_sms(text).segments == _expected_segments(len(text), 160, 153)


@given(st.text(alphabet="ëŁ\u4e2dж", min_size=1, max_size=400))
def test_bmp_ucs2_segments_follow_70_67(text: str) -> None:
    count = count_sms(text)
    assert count.encoding == UCS2
    assert count.units == len(text)
    assert count.segments == _expected_segments(len(text), 70, 67)


@given(st.text(alphabet="ë\U0001f60a", min_size=1, max_size=200))
def test_astral_characters_count_two_units(text: str) -> None:
    count = count_sms(text)
    assert count.units == len(text) + sum(ord(ch) > 0xFFFF for ch in text)


@settings(max_examples=300)
@given(mixed_text)
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise_sms(text)
    assert normalise_sms(once) == once


@settings(max_examples=300)
@given(mixed_text)
def test_normalise_never_adds_segments(text: str) -> None:
    raw = count_sms(text, normalise=False)
    normalised = count_sms(normalise_sms(text), normalise=False)
    assert normalised.segments <= raw.segments


@given(mixed_text)
def test_normalise_leaves_no_curly_punctuation(text: str) -> None:
    normalised = normalise_sms(text)
    for character in "\u2018\u2019\u201c\u201d\u2013\u2014\u00a0\u202f\u00ad":
        assert character not in normalised


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


# --- the SMS renderer ---------------------------------------------------------------------


def test_sms_renderer_normalises_text() -> None:
    body = "It\u2019s on its way \u2014 we hope you love it\u2026"
    message = render_message(
        Path(__file__).resolve().parents[2] / "templates",
        kind=MessageKind.ORDER_FOLLOWUP,
        channel=Channel.SMS,
        brand=make_brand(),
        context=make_context(first_name="Sam"),
        fields={"body": body},
    )
    assert "it's on its way - we hope you love it..." in message.text
    assert normalise_sms(message.text) == message.text
    assert count_sms(message.text, normalise=False).encoding == GSM7
