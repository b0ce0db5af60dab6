"""Voice checks: the brand's banned phrases and the length of each model-written field."""

from __future__ import annotations

from agent.domain import Finding, Severity
from agent.guardrails.base import CheckInput
from agent.guardrails.text import field_label, find_phrase, nfc

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


def check_length(inp: CheckInput) -> list[Finding]:
    """Warn about a subject, call to action or body longer than its limit in characters."""
    findings = []
    for field, limit in FIELD_MAX_CHARS.items():
        value = inp.fields.get(field)
        if value is None:
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
