"""Voice checks on model-written fields: banned phrases, length, repetition, exclamation
marks, shouted capitals and reading level."""

from __future__ import annotations

import re

import textstat

from agent.domain import BrandProfile, Channel, Finding, Severity
from agent.guardrails.base import CheckInput
from agent.guardrails.text import field_label, find_phrase, nfc, token_key

SUBJECT_MAX_CHARS = 60
CALL_TO_ACTION_MAX_CHARS = 30
BODY_MAX_CHARS = 320

# Field name to the most characters the copy may have before a person should look at it.
FIELD_MAX_CHARS: dict[str, int] = {
    "subject": SUBJECT_MAX_CHARS,
    "call_to_action": CALL_TO_ACTION_MAX_CHARS,
    "body": BODY_MAX_CHARS,
}


def check_banned_phrases(inp: CheckInput) -> list[Finding]:
    """Block any of the brand's banned phrases in a model-written field, whatever its case."""
    findings = []
    for field, value in inp.fields.items():
        for phrase in inp.brand.banned_phrases:
            matches = find_phrase(value, phrase)
            if matches:
                findings.append(_banned_finding(field, phrase, matches[0].group()))
    return findings


def _banned_finding(field: str, phrase: str, span: str) -> Finding:
    return Finding(
        check_id="voice.banned_phrases",
        severity=Severity.BLOCK,
        message=f"The {field_label(field)} contains {span!r}, and the brand bans the phrase "
        f"{phrase!r}.",
        field=field,
        span=span,
        suggestion="Rewrite the sentence without the banned phrase.",
    )


def field_limit(limits: dict[str, int], channel: Channel, field: str) -> int | None:
    """Return the limit for `field` on `channel`: '<channel>/<field>' first, then '<field>'."""
    return limits.get(f"{channel.value}/{field}", limits.get(field))


def check_length(inp: CheckInput) -> list[Finding]:
    """Warn about a field longer than its limit in characters.

    The brand's `field_max_chars` sets limits per field or per channel and field. The
    subject, call to action and body have defaults.
    """
    findings = []
    for field, value in inp.fields.items():
        limit = field_limit(inp.brand.field_max_chars, inp.channel, field)
        if limit is None:
            limit = FIELD_MAX_CHARS.get(field)
        if limit is None:
            continue
        length = len(nfc(value))
        if length > limit:
            findings.append(_length_finding(field, value, length, limit))
    return findings


def _length_finding(field: str, value: str, length: int, limit: int) -> Finding:
    return Finding(
        check_id="voice.length",
        severity=Severity.WARN,
        message=f"The {field_label(field)} is {length} characters long, over the limit of {limit}.",
        field=field,
        span=value,
        suggestion=f"Shorten the {field_label(field)} to {limit} characters or fewer.",
    )


# A run of this many words repeated in one field reads as a stutter to a customer.
REPEATED_RUN_WORDS = 4


def check_repetition(inp: CheckInput) -> list[Finding]:
    """Block a field that repeats a run of four or more words, such as "find what they
    need ... find what they need"."""
    findings = []
    for field, value in inp.fields.items():
        run = _repeated_run(value)
        if run is not None:
            findings.append(
                Finding(
                    check_id="voice.repetition",
                    severity=Severity.BLOCK,
                    message=f"The {field_label(field)} repeats {run!r}.",
                    field=field,
                    span=run,
                    suggestion="Say it once, or rewrite the second sentence.",
                )
            )
    return findings


def _repeated_run(text: str) -> str | None:
    words = ["".join(ch for ch in w.lower() if ch.isalnum()) for w in nfc(text).split()]
    seen: set[tuple[str, ...]] = set()
    for start in range(len(words) - REPEATED_RUN_WORDS + 1):
        run = tuple(words[start : start + REPEATED_RUN_WORDS])
        if run in seen:
            return " ".join(run)
        seen.add(run)
    return None


# --- voice.exclamation ----------------------------------------------------------------------

# Characters that each count as this many exclamation marks.
EXCLAMATION_MARKS = {"!": 1, "\uff01": 1, "\u203c": 2, "\u2049": 1}


def count_exclamations(text: str) -> int:
    return sum(EXCLAMATION_MARKS.get(character, 0) for character in text)


def check_exclamation(inp: CheckInput) -> list[Finding]:
    """Warn about more exclamation marks than the brand allows in a field or in the message.

    `field_max_exclamations` limits single fields, and `max_exclamations` the whole message
    per channel (by default one in an email and none in an SMS).
    """
    brand = inp.brand
    findings = []
    total, message_limit = 0, brand.max_exclamations.get(inp.channel)
    for field, value in inp.fields.items():
        count = count_exclamations(value)
        total += count
        limit = field_limit(brand.field_max_exclamations, inp.channel, field)
        if limit is not None and count > limit:
            findings.append(_exclamation_finding(f"the {field_label(field)}", field, count, limit))
        elif message_limit is not None and count and total > message_limit:
            where = f"this {inp.channel.value}"
            findings.append(_exclamation_finding(where, field, total, message_limit))
    return findings


def _exclamation_finding(where: str, field: str, count: int, limit: int) -> Finding:
    if limit == 0:
        allowed = "no exclamation marks"
    else:
        allowed = f"at most {limit} exclamation mark{'s' if limit > 1 else ''}"
    return Finding(
        check_id="voice.exclamation",
        severity=Severity.WARN,
        message=f"The brand allows {allowed} in {where}, and the {field_label(field)} brings "
        f"the count to {count}.",
        field=field,
        span="!",
        suggestion="End the sentences with full stops; let the words carry the warmth.",
    )


# --- voice.capitals -------------------------------------------------------------------------

_LETTER_WORD = re.compile(r"(?<!\w)[^\W\d_]+(?:['-][^\W\d_]+)*(?!\w)")
_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}|https?://\S+")


def _is_shouted(word: str) -> bool:
    letters = [character for character in word if character.isalpha()]
    return len(letters) >= 2 and all(character.isupper() for character in letters)


def _allowed_capitals(brand: BrandProfile) -> set[str]:
    words = [*brand.allowed_acronyms, brand.name, brand.sms_sender]
    return {token_key(match.group()) for word in words for match in _LETTER_WORD.finditer(word)}


def shouted_runs(text: str, allowed: set[str]) -> list[str]:
    """Return the runs of consecutive ALL-CAPS words in `text` that `allowed` does not list."""
    text = _PLACEHOLDER.sub(" ", nfc(text))
    runs: list[list[re.Match[str]]] = []
    previous_end = None
    for match in _LETTER_WORD.finditer(text):
        word = match.group()
        if not _is_shouted(word) or token_key(word) in allowed:
            previous_end = None
            continue
        gap = text[previous_end : match.start()] if previous_end is not None else None
        if gap is not None and not any(character.isalnum() for character in gap):
            runs[-1].append(match)
        else:
            runs.append([match])
        previous_end = match.end()
    return [text[run[0].start() : run[-1].end()] for run in runs]


def check_capitals(inp: CheckInput) -> list[Finding]:
    """Warn about words written in capitals for emphasis, except the brand's acronyms and
    names."""
    allowed = _allowed_capitals(inp.brand)
    findings = []
    for field, value in inp.fields.items():
        for run in shouted_runs(value, allowed):
            findings.append(
                Finding(
                    check_id="voice.capitals",
                    severity=Severity.WARN,
                    message=f"The {field_label(field)} shouts {run!r} in capitals.",
                    field=field,
                    span=run,
                    suggestion="Write it in sentence case, or add the acronym to the brand's "
                    "`allowed_acronyms`.",
                )
            )
    return findings


# --- voice.reading_level --------------------------------------------------------------------

# Readability formulas swing widely on a sentence or two, so shorter fields are not scored.
READING_MIN_WORDS = 20


def check_reading_level(inp: CheckInput) -> list[Finding]:
    """Warn about a field of 20 or more words that reads harder than the brand allows.

    Scores come from textstat 0.7.4: Flesch reading ease (higher is easier, and 60-70 is plain
    English) against `min_reading_ease`, and Flesch-Kincaid grade against
    `max_reading_grade`.
    """
    brand = inp.brand
    findings = []
    for field, value in inp.fields.items():
        if len(value.split()) < READING_MIN_WORDS:
            continue
        problem = _reading_problem(brand, value)
        if problem is not None:
            findings.append(_reading_finding(field, problem))
    return findings


def _reading_problem(brand: BrandProfile, text: str) -> str | None:
    ease = textstat.flesch_reading_ease(text)
    if brand.min_reading_ease is not None and ease < brand.min_reading_ease:
        return (
            f"a reading ease of {ease:.0f}, below the brand's minimum of {brand.min_reading_ease:g}"
        )
    grade = textstat.flesch_kincaid_grade(text)
    if brand.max_reading_grade is not None and grade > brand.max_reading_grade:
        return f"a grade of {grade:.1f}, above the brand's maximum of {brand.max_reading_grade:g}"
    return None


def _reading_finding(field: str, bound: str) -> Finding:
    return Finding(
        check_id="voice.reading_level",
        severity=Severity.WARN,
        message=f"The {field_label(field)} has {bound}.",
        field=field,
        suggestion="Use shorter sentences and everyday words.",
    )
