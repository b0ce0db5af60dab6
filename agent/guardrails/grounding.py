"""Grounding checks: the message names only people, products and numbers from the context."""

from __future__ import annotations

import re
from itertools import chain

from agent.domain import Channel, CustomerContext, Finding, Severity
from agent.guardrails.base import CheckInput
from agent.guardrails.catalogue import (
    PhraseIndex,
    ProductMention,
    catalogue_index,
    phrase_key,
)
from agent.guardrails.figures import Facts, Figure, find_figures, gather_facts, is_grounded
from agent.guardrails.policy import find_promises
from agent.guardrails.sms import gsm_septets
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
# HTML tags, character references and template delimiters: a name containing any of these
# would be read as markup by a browser or a template engine.
_MARKUP = re.compile(
    r"<\s*/?\s*[a-z!?][^>]*>|&(?:#\d+|#x[0-9a-f]+|[a-z]+);|\{\{|\}\}|\{%|%\}|javascript:",
    re.IGNORECASE,
)
# Characters that change the meaning of HTML when written unescaped.
_HTML_SPECIAL = set("<>&")
# Bidirectional controls and zero-width characters, which change how a name looks or reads
# on screen but not the name itself.
_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
        "\u2066\u2067\u2068\u2069\u061c\ufeff",
    ),
    None,
)

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
    return " ".join(fold_punctuation(nfc(name)).translate(_INVISIBLE).casefold().split())


def is_markup(name: str) -> bool:
    """Return True when `name` contains an HTML tag, a character reference or template syntax."""
    return bool(_MARKUP.search(name))


def greeting_name(context: CustomerContext) -> str | None:
    """Return the first name to greet the customer with, or None for a neutral greeting.

    A blank name, a placeholder value such as "None", and a name containing markup all give
    None.
    """
    name = (context.first_name or "").strip()
    if not name or _is_placeholder(name) or is_markup(name):
        return None
    return name


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
    """Check the template's greeting line against the customer's first name, and that the
    HTML part shows the name as text, never as markup.

    A text whose first line is not a greeting has nothing to check, so it passes.
    """
    return _greeting_line_findings(inp) + _html_name_findings(inp)


def _greeting_line_findings(inp: CheckInput) -> list[Finding]:
    line = _greeting_line(inp)
    match = _GREETING.match(line)
    if match is None:
        return []
    written = match.group("name").strip()
    # A name on record that is blank, a placeholder or markup counts as no name.
    expected = greeting_name(inp.context) or ""
    if is_markup(written):
        message = "The greeting shows a name containing HTML or template markup."
        return [_greeting_finding(message, line)]
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
        # One character outside GSM-7 would switch the whole SMS to UCS-2, so the SMS
        # renderer greets such names neutrally on purpose.
        if inp.channel is Channel.SMS and any(gsm_septets(ch) is None for ch in expected):
            return []
        message = "The greeting is neutral although the customer's first name is on record."
        return [_greeting_finding(message, line, Severity.WARN)]
    if _name_key(written) in _gift_recipient_keys(inp.context):
        message = "The greeting names the gift recipient, but it must address the buyer."
        return [_greeting_finding(message, line)]
    message = f"The greeting names {written!r}, which is not the customer's first name."
    return [_greeting_finding(message, line)]


def _gift_recipient_keys(context: CustomerContext) -> set[str]:
    return {_name_key(o.gift_recipient) for o in context.orders if o.gift_recipient}


def _html_name_findings(inp: CheckInput) -> list[Finding]:
    """Block an HTML part that contains the first name's markup characters unescaped."""
    name = (inp.context.first_name or "").strip()
    html = inp.rendered.html
    if not html or not _HTML_SPECIAL & set(name) or name not in html:
        return []
    return [
        Finding(
            check_id="grounding.greeting",
            severity=Severity.BLOCK,
            message="The HTML part contains the customer's first name unescaped, so a mail "
            "client would read the characters < > & in it as markup.",
            suggestion="Render the HTML part with autoescaping, or greet with 'Hello,'.",
        )
    ]


# --- grounding.names ---------------------------------------------------------------------


def _context_words(inp: CheckInput) -> set[str]:
    """Case-folded words that a message may capitalise: names from the context and brand."""
    sources = [inp.context.first_name or "", inp.context.country or "", inp.brand.name]
    # A gift recipient's name may appear in the body, such as "we hope Sam loves it".
    sources.extend(order.gift_recipient or "" for order in inp.context.orders)
    account = inp.context.loyalty
    if account is not None:
        sources += [account.program, account.tier_name, account.next_tier_name or ""]
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
    """Block figures and numbers in the message that the context does not contain.

    In model-written fields, a typed figure (an amount, a date, an order reference or a
    loyalty balance) must match the customer's context or the allowed offer. A number
    inside a policy promise that matches the policy is left alone, because
    grounding.policy_promise checks promises. Any other number must be part of the allowed
    offer: digits reach a message only through the template and the brand's offer text.
    The rendered subject and text get the typed-figure check too.
    """
    month_first = inp.brand.locale.casefold() == "en-us"
    allowed = set(_NUMBER.findall(inp.allowed_offer or ""))
    facts: list[Facts] = []
    findings: list[Finding] = []
    for field, value in inp.fields.items():
        text = _PLATFORM_PLACEHOLDER.sub(_blank, fold_punctuation(nfc(value)))
        figures = find_figures(text, month_first)
        findings += [
            _figure_finding(field, figure)
            for figure in figures
            if not is_grounded(figure, _facts(inp, facts))
        ]
        covered = [(figure.start, figure.end) for figure in figures]
        covered += [(p.start, p.end) for p in find_promises(inp, value) if p.kept]
        findings += _bare_number_findings(inp, field, text, covered, allowed)
    reported = {finding.span.casefold() for finding in findings if finding.span}
    return findings + _rendered_figure_findings(inp, month_first, facts, reported)


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group())


def _facts(inp: CheckInput, cache: list[Facts]) -> Facts:
    """Gather the context's facts once per check run, and only when a figure needs them."""
    if not cache:
        cache.append(gather_facts(inp))
    return cache[0]


def _bare_number_findings(
    inp: CheckInput, field: str, text: str, covered: list[tuple[int, int]], allowed: set[str]
) -> list[Finding]:
    findings = []
    seen: set[str] = set()
    for match in _NUMBER.finditer(text):
        if any(start <= match.start() < end for start, end in covered):
            continue
        number = match.group()
        if number in allowed or number in seen:
            continue
        seen.add(number)
        findings.append(_number_finding(inp, field, number))
    return findings


def _rendered_figure_findings(
    inp: CheckInput, month_first: bool, facts: list[Facts], reported: set[str]
) -> list[Finding]:
    """Check typed figures the template or fallback copy wrote, skipping product names."""
    products = [description.casefold() for description in inp.context.product_descriptions()]
    findings = []
    for part in (inp.rendered.subject or "", inp.rendered.text):
        text = _PLATFORM_PLACEHOLDER.sub(_blank, fold_punctuation(nfc(part)))
        for figure in find_figures(text, month_first):
            key = figure.text.casefold()
            if key in reported or any(key in product for product in products):
                continue
            if not is_grounded(figure, _facts(inp, facts)):
                reported.add(key)
                findings.append(_figure_finding(locate_field(inp.fields, figure.text), figure))
    return findings


def _figure_finding(field: str | None, figure: Figure) -> Finding:
    where = f"The {field_label(field)}" if field else "The message"
    return Finding(
        check_id="grounding.numbers",
        severity=Severity.BLOCK,
        message=f"{where} states the {figure.kind} {figure.text!r}, which the customer's "
        "context does not contain.",
        field=field,
        span=figure.text,
        suggestion=f"Remove the {figure.kind}, or use the one from the customer's orders.",
    )


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
