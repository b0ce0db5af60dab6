"""SMS length checks: encoding, units and segments as a mobile network counts them.

GSM-7 (3GPP TS 23.038) fits 160 septets in one SMS. A longer message is split into parts of
153 septets, because each part carries a 7-septet header for reassembly. The extension
characters (form feed and ^ { } \\ [ ~ ] | €) take two septets each: an escape plus the
character. A message with any character outside GSM-7 is sent as UCS-2 instead: 70 UTF-16
code units in one SMS, 67 per part, and a character outside the Basic Multilingual Plane
(most emoji) takes two units. The count keeps a two-septet character or a surrogate pair
within one part, so a part may end one unit short.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import gsm0338  # noqa: F401  (importing registers the "gsm03.38" codec)

from agent.domain import Channel, Finding, Severity
from agent.guardrails.base import CheckInput
from agent.guardrails.text import fold_punctuation, locate_field

GSM7 = "GSM-7"
UCS2 = "UCS-2"
GSM7_SINGLE_SEPTETS = 160
GSM7_PART_SEPTETS = 153
UCS2_SINGLE_UNITS = 70
UCS2_PART_UNITS = 67
# A UCS-2 message forced by at most this many non-GSM characters gets a warning, because
# replacing them is usually easy. A message written mostly in another script is UCS-2 by design.
FEW_NON_GSM_CHARACTERS = 3


# Characters the normalisation replaces one for one. Each target is in GSM-7, so a
# replacement never lengthens the text in either encoding.
_SMS_FOLD = {
    "\u00ab": '"',  # left-pointing double angle quotation mark
    "\u00bb": '"',  # right-pointing double angle quotation mark
    "\u2039": "'",  # single left-pointing angle quotation mark
    "\u203a": "'",  # single right-pointing angle quotation mark
    "\u2032": "'",  # prime
    "\u2033": '"',  # double prime
    "\u2015": "-",  # horizontal bar
    "\ufe63": "-",  # small hyphen-minus
    "\uff0d": "-",  # full-width hyphen-minus
}
# Every space separator (Unicode category Zs) other than the ASCII space becomes a space.
_SPACES = "\u00a0\u1680\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
# Invisible characters that only change line breaking: zero-width space, word joiner,
# zero-width no-break space (byte order mark) and soft hyphen. Joiners stay, because they
# change how emoji and some scripts look.
_INVISIBLE = "\u200b\u2060\ufeff\u00ad"
_SMS_TABLE = str.maketrans(
    _SMS_FOLD | dict.fromkeys(_SPACES, " ") | dict.fromkeys(_INVISIBLE, None)
)
ELLIPSIS = "\u2026"


@dataclass(frozen=True)
class SmsCount:
    """The encoding of an SMS text, its length in that encoding's units, and its segments."""

    encoding: str
    units: int
    segments: int
    normalised: str
    # Characters outside GSM-7, each once, in order of first appearance.
    non_gsm: tuple[str, ...] = ()


def normalise_sms(text: str) -> str:
    """Replace typographic characters in an SMS text with GSM-7 ones, keeping its wording.

    Curly quotes, dashes, other spaces and similar punctuation become their GSM-7 forms one for
    one, invisible characters are dropped, and accents are composed ("e" and a combining acute
    become "é"). Ellipses become "..." only when that leaves the whole text in GSM-7 without
    adding a segment. The result never takes more segments than `text`, and normalising it
    again changes nothing.
    """
    folded = _fold(_compose(_fold(text)))
    if ELLIPSIS not in folded:
        return folded
    expanded = folded.replace(ELLIPSIS, "...")
    before, after = _count(folded), _count(expanded)
    if after.encoding == GSM7 and after.segments <= before.segments:
        return expanded
    return folded


def _fold(text: str) -> str:
    return fold_punctuation(text).translate(_SMS_TABLE)


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _compose(text: str) -> str:
    """Compose each base character with its combining marks, unless NFC would lengthen it.

    A few characters, such as U+0958 DEVANAGARI LETTER QA, decompose under NFC, so composing
    them whole would add a UCS-2 unit.
    """
    parts: list[str] = []
    cluster = ""
    for character in text:
        if cluster and not unicodedata.combining(character):
            parts.append(_composed(cluster))
            cluster = ""
        cluster += character
    parts.append(_composed(cluster))
    return "".join(parts)


def _composed(cluster: str) -> str:
    composed = unicodedata.normalize("NFC", cluster)
    return composed if _utf16_units(composed) <= _utf16_units(cluster) else cluster


@lru_cache(maxsize=512)
def gsm_septets(character: str) -> int | None:
    """Return the septets `character` takes in GSM-7 (1 or 2), or None if GSM-7 lacks it."""
    try:
        return len(character.encode("gsm03.38"))
    except UnicodeEncodeError:
        return None


def _segments(widths: list[int], single: int, part: int) -> int:
    """Count the parts needed for characters of these widths, never splitting a character."""
    if sum(widths) <= single:
        return 1
    segments, used = 1, 0
    for width in widths:
        if used + width > part:
            segments += 1
            used = 0
        used += width
    return segments


def _count(text: str) -> SmsCount:
    """Count `text` exactly as written, without normalising it."""
    septets = [gsm_septets(character) for character in text]
    non_gsm = tuple(
        dict.fromkeys(ch for ch, width in zip(text, septets, strict=True) if width is None)
    )
    if not non_gsm:
        widths = [width or 0 for width in septets]
        segments = _segments(widths, GSM7_SINGLE_SEPTETS, GSM7_PART_SEPTETS)
        return SmsCount(GSM7, sum(widths), segments, text)
    widths = [2 if ord(character) > 0xFFFF else 1 for character in text]
    segments = _segments(widths, UCS2_SINGLE_UNITS, UCS2_PART_UNITS)
    return SmsCount(UCS2, sum(widths), segments, text, non_gsm)


def count_sms(text: str, normalise: bool = True) -> SmsCount:
    """Count the encoding, units and segments of an SMS, normalised first unless `normalise`
    is False.

    An empty text still takes one segment.
    """
    return _count(normalise_sms(text) if normalise else text)


def max_units(encoding: str, segments: int) -> int:
    """Return the most units that fit in `segments` SMS parts of this encoding."""
    if encoding == GSM7:
        return GSM7_SINGLE_SEPTETS if segments == 1 else GSM7_PART_SEPTETS * segments
    return UCS2_SINGLE_UNITS if segments == 1 else UCS2_PART_UNITS * segments


def _unit_name(encoding: str) -> str:
    return "septets" if encoding == GSM7 else "UTF-16 units"


def _describe(count: SmsCount) -> str:
    description = f"{count.encoding}, {count.units} {_unit_name(count.encoding)}"
    if count.non_gsm:
        description += f", UCS-2 because of {_quoted(count.non_gsm)}"
    return description


def _quoted(characters: tuple[str, ...]) -> str:
    return ", ".join(repr(character) for character in characters)


# --- sms.segments and sms.encoding ----------------------------------------------------------


def check_segments(inp: CheckInput) -> list[Finding]:
    """Block an SMS that takes more segments than the brand allows."""
    if inp.channel is not Channel.SMS:
        return []
    count = count_sms(inp.rendered.text)
    limit = inp.brand.sms_max_segments
    if count.segments <= limit:
        return []
    span = count.non_gsm[0] if count.non_gsm else None
    return [
        Finding(
            check_id="sms.segments",
            severity=Severity.BLOCK,
            message=f"The SMS takes {count.segments} segments ({_describe(count)}), more than "
            f"the brand's maximum of {limit}.",
            field=locate_field(inp.fields, span) if span else None,
            span=span,
            suggestion=f"Shorten the SMS to at most {max_units(count.encoding, limit)} "
            f"{_unit_name(count.encoding)}"
            + (", or replace the non-GSM characters." if count.non_gsm else "."),
        )
    ]


def check_encoding(inp: CheckInput) -> list[Finding]:
    """Warn when a few characters outside GSM-7 force the whole SMS into UCS-2."""
    if inp.channel is not Channel.SMS:
        return []
    count = count_sms(inp.rendered.text)
    forcing = [character for character in count.normalised if gsm_septets(character) is None]
    if not forcing or len(forcing) > FEW_NON_GSM_CHARACTERS:
        return []
    return [
        Finding(
            check_id="sms.encoding",
            severity=Severity.WARN,
            message=f"The SMS contains {_quoted(count.non_gsm)}, outside the GSM-7 character "
            f"set, so it is sent as UCS-2: one segment holds {UCS2_SINGLE_UNITS} characters "
            f"instead of {GSM7_SINGLE_SEPTETS}.",
            field=locate_field(inp.fields, count.non_gsm[0]),
            span=count.non_gsm[0],
            suggestion="Replace the characters listed with GSM-7 ones, or remove them.",
        )
    ]
