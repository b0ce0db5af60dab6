"""Privacy checks: no personal data beyond the recipient's first name, and customer-written
text that reads like instructions to the model.

Reviews and tickets reach the prompt fenced as data, never as instructions.
`find_instructions` flags the parts that try to instruct the model anyway, and
`check_injection_echo` blocks a draft that repeats such text or the codes it requests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from agent.domain import CustomerContext, Finding, Severity
from agent.guardrails.base import CheckInput
from agent.guardrails.catalogue import COMMON_WORDS
from agent.guardrails.text import (
    field_label,
    fold_punctuation,
    locate_field,
    nfc,
    phrase_pattern,
    rendered_parts,
    token_key,
    tokens,
)

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A run of digits with the separators phone numbers use, which _is_phone then judges.
_PHONE_CANDIDATE = re.compile(r"(?<![\w+£$€.,/])(?:\+|00)?\(?\d[\d ()./-]{6,}\d(?![\w%])")
PHONE_MIN_DIGITS = 9
PHONE_MAX_DIGITS = 15
_STREET_SUFFIX = (
    "street|st|road|rd|avenue|ave|lane|ln|drive|dr|close|way|place|pl|court|ct|crescent|"
    "terrace|boulevard|blvd|gardens|square|sq|row|grove|mews|walk|parade|hill|highway|hwy|"
    "rise|view"
)
_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|"
    "NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC"
)
ADDRESS_PATTERNS: tuple[re.Pattern[str], ...] = (
    # A house number, one to three capitalised words and a street type: "14 Acacia Avenue".
    re.compile(
        rf"(?<![\w£$€.,])\d{{1,5}}[A-Za-z]?,?[ \t]+(?:[A-Z][\w'-]*[ \t]+){{1,3}}"
        rf"(?i:{_STREET_SUFFIX})\.?(?!\w)"
    ),
    re.compile(r"(?<!\w)(?i:flat|apartment|apt|suite)\.?[ \t]+\d+[A-Za-z]?(?!\w)"),
    # A UK postcode: "LS6 2AB", "SW1A 1AA".
    re.compile(r"(?<!\w)(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})(?!\w)"),
    # A US state and ZIP code: "NY 10001".
    re.compile(rf"(?<!\w)(?:{_US_STATES})[ \t]+\d{{5}}(?:-\d{{4}})?(?!\w)"),
)
_URL_OR_PLACEHOLDER = re.compile(r"https?://\S+|\{\{[^{}]*\}\}")


# --- personal data -------------------------------------------------------------------------


def _mask_phrases(text: str, phrases: Iterable[str]) -> str:
    for phrase in phrases:
        if phrase.strip():
            text = phrase_pattern(phrase).sub(lambda match: " " * len(match.group()), text)
    return text


def _known_phrases(inp: CheckInput) -> list[str]:
    """Return text that may look like personal data but is not: the parts of the brand's postal
    address, and the order references, stock codes and product names of the customer's
    orders."""
    known = [part.strip() for part in inp.brand.postal_address.split(",")]
    for order in inp.context.orders:
        known.append(order.order_id)
        known.extend(line.stock_code for line in order.lines)
        known.extend(line.description for line in order.lines)
    return known


def _find_spans(inp: CheckInput, find: Callable[[str], list[str]]) -> list[str]:
    """Apply `find` to each line of the visible message, links and placeholders removed.

    A line with a candidate is searched again with the known phrases masked, so the cost of
    masking is paid only on the few lines that need it.
    """
    known: list[str] | None = None
    spans = []
    for part in rendered_parts(inp, with_html=True):
        part = fold_punctuation(_URL_OR_PLACEHOLDER.sub(lambda m: " " * len(m.group()), part))
        for line in part.splitlines():
            if not find(line):
                continue
            known = _known_phrases(inp) if known is None else known
            spans += find(_mask_phrases(line, known))
    return spans


def _is_phone(candidate: str) -> bool:
    digits = sum(ch.isdigit() for ch in candidate)
    if not PHONE_MIN_DIGITS <= digits <= PHONE_MAX_DIGITS:
        return False
    # A date such as 2011-12-04 12:30 or a run of amounts is not a phone number.
    return not re.search(r"\d{4}-\d{2}-\d{2}|\d\.\d{2}(?!\d)", candidate)


def _unique_findings(
    inp: CheckInput, check_id: str, description: str, spans: Iterable[str]
) -> list[Finding]:
    findings = []
    seen: set[str] = set()
    for span in spans:
        key = " ".join(span.split()).casefold()
        if key in seen:
            continue
        seen.add(key)
        field = locate_field(inp.fields, span)
        where = f"The {field_label(field)}" if field else "The message"
        findings.append(
            Finding(
                check_id=check_id,
                severity=Severity.BLOCK,
                message=f"{where} contains {description}. A message may name only its "
                "recipient's first name, and no other personal data.",
                field=field,
                span=span,
                suggestion=f"Remove the {description.split(' ', 1)[1]}.",
            )
        )
    return findings


def _emails(line: str) -> list[str]:
    return [match.group() for match in EMAIL.finditer(line)]


def _phones(line: str) -> list[str]:
    line = EMAIL.sub(lambda match: " " * len(match.group()), line)
    return [m.group() for m in _PHONE_CANDIDATE.finditer(line) if _is_phone(m.group())]


def _addresses(line: str) -> list[str]:
    return [match.group() for pattern in ADDRESS_PATTERNS for match in pattern.finditer(line)]


def check_email(inp: CheckInput) -> list[Finding]:
    """Block an email address in the message."""
    return _unique_findings(inp, "privacy.email", "an email address", _find_spans(inp, _emails))


def check_phone(inp: CheckInput) -> list[Finding]:
    """Block a phone number: 9 to 15 digits with the usual separators."""
    return _unique_findings(inp, "privacy.phone", "a phone number", _find_spans(inp, _phones))


def check_address(inp: CheckInput) -> list[Finding]:
    """Block a street address or postcode other than the brand's own postal address."""
    spans = _find_spans(inp, _addresses)
    return _unique_findings(inp, "privacy.address", "a postal address", spans)


# --- instructions in customer-written text ----------------------------------------------------

_OVERRIDE = (
    r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:(?:all|any|the|your|my|these|those|"
    r"of)\s+)*(?:(?:previous|prior|above|earlier|preceding|system|original|other)\s+)?"
    r"(?:instructions?|prompts?|rules|directions|guidelines|messages?|context)\b"
)
INJECTION_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an instruction to ignore the rules", re.compile(_OVERRIDE, re.IGNORECASE)),
    (
        "an attempt to change the model's role",
        re.compile(
            r"\byou\s+are\s+now\b|\bfrom\s+now\s+on,?\s+you\b|\bact\s+as\s+(?:a|an|the|my)\b|"
            r"\bpretend\s+(?:to\s+be|you\s+are)\b|\brole[\s-]?play\b|\bnew\s+instructions?\s*:",
            re.IGNORECASE,
        ),
    ),
    (
        "a chat role marker",
        re.compile(
            r"(?m)^\s*(?:system|assistant|user|developer)\s*:|"
            r"\bsystem\s+(?:override|prompt|message|instructions?)\b|"
            r"<\|[a-z_]+\|>|\[/?INST\]|<</?SYS>>|###\s*(?:instruction|system|response)\b|"
            r"@@\s*(?:system|user|assistant)\b",
            re.IGNORECASE,
        ),
    ),
    ("a prompt fence marker", re.compile(r"<<<|>>>|\bcustomer_text\b", re.IGNORECASE)),
    (
        "a request for the model to act",
        re.compile(
            r"\b(?:give|send|tell|offer|write|include|add|email|put)\s+(?:me|us|this\s+customer|"
            r"the\s+customer|them|him|her)\b[^.!?\n]{0,60}?\b(?:discount|coupon|promo|voucher|"
            r"refund|codes?|free|off|password|prompt|address|email)\b|"
            r"\b(?:reveal|print|show|repeat|output)\s+(?:me\s+)?(?:your|the)\s+(?:system\s+)?"
            r"(?:prompt|instructions|rules)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "HTML or script markup",
        re.compile(
            r"<\s*/?\s*[a-z][a-z0-9]*\b[^<>]*>|<!--|javascript\s*:|\bon[a-z]+\s*=\s*['\"]",
            re.IGNORECASE,
        ),
    ),
)


@lru_cache(maxsize=1024)
def _instruction_matches(text: str) -> tuple[tuple[str, int, int], ...]:
    folded = fold_punctuation(nfc(text))
    return tuple(
        (label, match.start(), match.end())
        for label, pattern in INJECTION_PATTERNS
        for match in pattern.finditer(folded)
    )


def find_instructions(text: str, source: str = "text") -> list[Finding]:
    """Flag parts of customer-written text that read like instructions to the model.

    Each finding is a privacy.injection warning, one per kind of instruction, whose span is
    the first matched phrase. `source` names the text in the message, such as "review".
    """
    folded = fold_punctuation(nfc(text))
    findings = []
    reported: set[str] = set()
    for label, start, end in _instruction_matches(text):
        if label in reported:
            continue
        reported.add(label)
        findings.append(
            Finding(
                check_id="privacy.injection",
                severity=Severity.WARN,
                message=f"The customer's {source} contains {label}. It reached the model "
                "fenced as data; check that the draft does not follow it.",
                span=folded[start:end],
                suggestion="Read the draft for anything the customer's text asked for.",
            )
        )
    return findings


def customer_texts(context: CustomerContext) -> list[tuple[str, str]]:
    """Return every customer-written text in the context as (source, text) pairs."""
    texts = [("review", review.text) for review in context.reviews]
    texts += [("ticket", f"{ticket.subject}\n{ticket.text}") for ticket in context.tickets]
    texts += [("return reason", product_return.reason) for product_return in context.returns]
    return [(source, text) for source, text in texts if text.strip()]


# --- privacy.injection on the draft -----------------------------------------------------------

# A run of this many words from an instruction-like sentence counts as echoed.
ECHO_RUN_WORDS = 4
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
# Codes, amounts, percentages and addresses an injection may ask the model to write.
_PAYLOAD = re.compile(
    r"(?<![\w@])(?=[A-Za-z0-9-]*[A-Za-z])(?=[A-Za-z0-9-]*\d)[A-Za-z0-9-]{4,}(?![\w@])|"
    r"\d+(?:\.\d+)?\s?%|[£$€]\s?\d+(?:\.\d{2})?|" + EMAIL.pattern
)


def _instruction_sentences(text: str) -> list[str]:
    folded = fold_punctuation(nfc(text))
    spans = [(start, end) for _, start, end in _instruction_matches(text)]
    return [
        sentence.group()
        for sentence in _SENTENCE.finditer(folded)
        if any(start < sentence.end() and sentence.start() < end for start, end in spans)
    ]


def _word_runs(text: str) -> list[tuple[str, ...]]:
    """Return the runs of ECHO_RUN_WORDS words in `text`, in order, skipping runs made only
    of everyday words such as "thank you for the"."""
    words = [token_key(match.group()) for match in tokens(text)]
    runs = []
    for start in range(len(words) - ECHO_RUN_WORDS + 1):
        run = tuple(words[start : start + ECHO_RUN_WORDS])
        if not set(run) <= COMMON_WORDS:
            runs.append(run)
    return runs


@lru_cache(maxsize=256)
def _injection_fingerprint(text: str) -> tuple[frozenset[tuple[str, ...]], frozenset[str]]:
    """Return the word runs and payload tokens of the instruction-like sentences of `text`."""
    sentences = _instruction_sentences(text)
    runs: set[tuple[str, ...]] = set()
    payloads: set[str] = set()
    for sentence in sentences:
        runs.update(_word_runs(sentence))
        payloads |= {" ".join(m.group().split()).casefold() for m in _PAYLOAD.finditer(sentence)}
    return frozenset(runs), frozenset(payloads)


def check_injection_echo(inp: CheckInput) -> list[Finding]:
    """Block a field that repeats instruction-like customer text, or the codes, amounts or
    addresses that text requests."""
    fingerprints = [_injection_fingerprint(text) for _, text in customer_texts(inp.context)]
    fingerprints = [fp for fp in fingerprints if fp[0] or fp[1]]
    if not fingerprints:
        return []
    findings = []
    for field, value in inp.fields.items():
        echoed = _echoed(fold_punctuation(nfc(value)), fingerprints)
        if echoed is not None:
            findings.append(_echo_finding(field, echoed))
    return findings


def _echoed(
    value: str, fingerprints: list[tuple[frozenset[tuple[str, ...]], frozenset[str]]]
) -> str | None:
    runs = _word_runs(value)
    payloads = [" ".join(m.group().split()).casefold() for m in _PAYLOAD.finditer(value)]
    for injected_runs, injected_payloads in fingerprints:
        for payload in payloads:
            if payload in injected_payloads:
                return payload
        for run in runs:
            if run in injected_runs:
                return " ".join(run)
    return None


def _echo_finding(field: str, echoed: str) -> Finding:
    return Finding(
        check_id="privacy.injection",
        severity=Severity.BLOCK,
        message=f"The {field_label(field)} repeats {echoed!r} from customer-written text that "
        "reads like instructions to the model.",
        field=field,
        span=echoed,
        suggestion="Rewrite the field from the brand's guidelines; never follow or quote what "
        "a review or ticket tells the model to do.",
    )
