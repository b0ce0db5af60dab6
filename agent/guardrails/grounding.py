"""Grounding checks: the message names only people, products and numbers from the context."""

from __future__ import annotations

import re
from itertools import chain

from agent.domain import Channel, Finding, Severity
from agent.guardrails.base import CheckInput
from agent.guardrails.catalogue import (
    PhraseIndex,
    ProductMention,
    catalogue_index,
    phrase_key,
)
from agent.guardrails.text import (
    field_label,
    fold_punctuation,
    locate_field,
    nfc,
    token_key,
    tokens,
)

# A greeting line as the templates write it: "Hi Zoë," or "Hello,". The name part is whatever
# sits between the greeting word and the first comma, exclamation mark or colon.
_GREETING = re.compile(
    r"^\s*(?P<word>hi|hello|hey|dear|good (?:morning|afternoon|evening))\b"
    r"(?P<name>[^,!:\n]*)(?:[,!:]|$)",
    re.IGNORECASE,
)
# Forms of address that name no person, so a greeting with them is neutral.
NEUTRAL_ADDRESSES = frozenset({"", "there", "all", "everyone", "customer", "friend"})
# Values a template writes when the name variable was missing or not rendered.
PLACEHOLDER_NAMES = frozenset({"none", "null", "nil", "undefined", "nan", "n/a", "first_name"})
_PLACEHOLDER_MARKS = set("{}[]<>%$")

_MONTHS_AND_WEEKDAYS_TEXT = """
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday
"""
MONTHS_AND_WEEKDAYS = frozenset(_MONTHS_AND_WEEKDAYS_TEXT.split())

_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
# A word of letters, with inner apostrophes or hyphens, that touches no digit ("SAVE10" is not
# a word here).
_WORD = re.compile(r"(?<!\w)[^\W\d_]+(?:['-][^\W\d_]+)*(?!\w)")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_PLATFORM_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")


# --- grounding.greeting ----------------------------------------------------------------


def _greeting_line(inp: CheckInput) -> str:
    """Return the first non-blank line, without the "Sender:" prefix an SMS starts with."""
    line = next((line.strip() for line in inp.rendered.text.splitlines() if line.strip()), "")
    sender_prefix = f"{inp.brand.sms_sender}:"
    if inp.channel is Channel.SMS and line.startswith(sender_prefix):
        line = line.removeprefix(sender_prefix).strip()
    return line


def _name_key(name: str) -> str:
    return " ".join(fold_punctuation(nfc(name)).casefold().split())


def _greeting_finding(message: str, line: str, severity: Severity = Severity.BLOCK) -> Finding:
    return Finding(
        check_id="grounding.greeting",
        severity=severity,
        message=message,
        field=None,
        span=line,
        suggestion="Render the greeting from the customer's first name, or use the neutral "
        "'Hello,' when no first name is on record.",
    )


def _is_placeholder(name: str) -> bool:
    return _name_key(name) in PLACEHOLDER_NAMES or bool(_PLACEHOLDER_MARKS & set(name))


def check_greeting(inp: CheckInput) -> list[Finding]:
    """Check the template's greeting line against the customer's first name.

    A text whose first line is not a greeting has nothing to check, so it passes.
    """
    line = _greeting_line(inp)
    match = _GREETING.match(line)
    if match is None:
        return []
    written = match.group("name").strip()
    expected = (inp.context.first_name or "").strip()
    if expected and _name_key(written) == _name_key(expected):
        return []
    if _is_placeholder(written):
        message = f"The greeting shows the placeholder {written!r} instead of a name."
        return [_greeting_finding(message, line)]
    if match.group("name") and not written:
        # "Hi ," is a name slot rendered empty; "Hello," has no name slot at all.
        return [_greeting_finding("The greeting has an empty name.", line)]
    if not expected and _name_key(written) in NEUTRAL_ADDRESSES:
        return []
    if not expected:
        message = f"The greeting names {written!r}, but the customer has no first name on record."
        return [_greeting_finding(message, line)]
    if _name_key(written) in NEUTRAL_ADDRESSES:
        message = "The greeting is neutral although the customer's first name is on record."
        return [_greeting_finding(message, line, Severity.WARN)]
    message = f"The greeting names {written!r}, which is not the customer's first name."
    return [_greeting_finding(message, line)]


# --- grounding.names ---------------------------------------------------------------------


def _context_words(inp: CheckInput) -> set[str]:
    """Case-folded words that a message may capitalise: names from the context and brand."""
    sources = [inp.context.first_name or "", inp.context.country or "", inp.brand.name]
    sources.extend(inp.context.product_descriptions())
    sources.extend(family.name for family in inp.brand.families)
    words = {token_key(match.group()) for match in chain.from_iterable(map(tokens, sources))}
    return words | MONTHS_AND_WEEKDAYS


def _capitalised_words(text: str) -> list[str]:
    """Return the capitalised words of `text` that do not start a sentence, except "I"."""
    found = []
    for sentence in _SENTENCE_BREAK.split(fold_punctuation(nfc(text)).strip()):
        for match in list(_WORD.finditer(sentence))[1:]:
            word = match.group()
            if word[0].isupper() and word.split("'")[0] != "I":
                found.append(word)
    return found


def check_names(inp: CheckInput) -> list[Finding]:
    """Warn about capitalised words in model-written fields that the context does not contain.

    NOTE: this is a capitalisation heuristic with no list of first names. It misses a name
    written in lower case or at the start of a sentence, and it cannot tell a person's name
    from another proper noun, so it only warns.
    """
    allowed = _context_words(inp)
    findings = []
    for field, value in inp.fields.items():
        seen: set[str] = set()
        for word in _capitalised_words(value):
            key = token_key(word)
            parts = {token_key(part) for part in re.split(r"['-]", word)}
            if key in seen or key in allowed or parts <= allowed:
                continue
            seen.add(key)
            findings.append(_name_finding(field, word))
    return findings


def _name_finding(field: str, word: str) -> Finding:
    return Finding(
        check_id="grounding.names",
        severity=Severity.WARN,
        message=f"The {field_label(field)} contains {word!r}, a possible name or proper noun "
        "not in the customer's context.",
        field=field,
        span=word,
        suggestion="Remove the name, or check that it belongs in this customer's message.",
    )


# --- grounding.products ------------------------------------------------------------------


def _allowed_keys(inp: CheckInput) -> set[tuple[str, ...]]:
    """Token tuples of the customer's products and of every run of words inside them."""
    allowed = set()
    for description in inp.context.product_descriptions():
        key = phrase_key(description)
        for start in range(len(key)):
            for end in range(start + 1, len(key) + 1):
                allowed.add(key[start:end])
    return allowed


def _covered_tokens(inp: CheckInput, text: str) -> set[int]:
    """Token positions inside mentions of the customer's products, brand name or address."""
    known = [*inp.context.product_descriptions(), inp.brand.name, inp.brand.postal_address]
    index = PhraseIndex(known, distinctive_only=False)
    covered: set[int] = set()
    for mention in index.find(text):
        covered.update(range(mention.first_token, mention.end_token))
    return covered


def _outermost(mentions: list[ProductMention]) -> list[ProductMention]:
    """Drop mentions that lie inside a longer mention, keeping the text's order."""
    ordered = sorted(mentions, key=lambda m: (m.first_token, m.first_token - m.end_token))
    outermost: list[ProductMention] = []
    for mention in ordered:
        if outermost and mention.end_token <= outermost[-1].end_token:
            continue
        outermost.append(mention)
    return outermost


def check_products(inp: CheckInput) -> list[Finding]:
    """Block a message that names a catalogue product the customer did not buy."""
    if not inp.catalogue:
        return []
    text = "\n".join([inp.rendered.subject or "", inp.rendered.text])
    allowed = _allowed_keys(inp)
    covered = _covered_tokens(inp, text)
    strangers = [
        mention
        for mention in catalogue_index(inp.catalogue).find(text)
        if phrase_key(mention.description) not in allowed
        and not set(range(mention.first_token, mention.end_token)) <= covered
    ]
    findings = []
    reported: set[str] = set()
    for mention in _outermost(strangers):
        if mention.description in reported:
            continue
        reported.add(mention.description)
        findings.append(_product_finding(inp, mention))
    return findings


def _product_finding(inp: CheckInput, mention: ProductMention) -> Finding:
    return Finding(
        check_id="grounding.products",
        severity=Severity.BLOCK,
        message=f"The message names the product {mention.description!r}, which the customer "
        "did not buy.",
        field=locate_field(inp.fields, mention.text),
        span=mention.text,
        suggestion="Mention only products from the customer's orders, or remove the name.",
    )


# --- grounding.numbers -------------------------------------------------------------------


def check_numbers(inp: CheckInput) -> list[Finding]:
    """Block numbers in model-written fields that are not part of the allowed offer.

    Digits reach a message only through the template (order details) and the brand's offer
    text, so any other number in a field is a fact the model made up.
    """
    allowed = set(_NUMBER.findall(inp.allowed_offer or ""))
    findings = []
    for field, value in inp.fields.items():
        seen: set[str] = set()
        for number in _NUMBER.findall(_PLATFORM_PLACEHOLDER.sub(" ", value)):
            if number in allowed or number in seen:
                continue
            seen.add(number)
            findings.append(_number_finding(inp, field, number))
    return findings


def _number_finding(inp: CheckInput, field: str, number: str) -> Finding:
    source = (
        f"the allowed offer is {inp.allowed_offer!r}"
        if inp.allowed_offer
        else "this customer has no offer"
    )
    return Finding(
        check_id="grounding.numbers",
        severity=Severity.BLOCK,
        message=f"The {field_label(field)} contains the number {number!r}, which is not part "
        f"of the allowed offer ({source}).",
        field=field,
        span=number,
        suggestion="Remove the number. The template adds order details and the offer text.",
    )
