"""grounding.policy_promise: promises about delivery, returns and guarantees match the policy.

The policy comes from the brand profile: `delivery_days` and `international_delivery_days`,
`next_day_delivery`, `free_delivery_threshold`, `returns_window_days`, `free_returns` and the
`guarantee` wording. A promise the brand does not make, or one with another number of days
or years, blocks. The allowed offer is masked first, so "free standard delivery on your next
order" from the incentive ladder is no policy promise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from agent.domain import BrandProfile, Finding, Severity
from agent.guardrails.base import CheckInput
from agent.guardrails.text import field_label, fold_punctuation, nfc, phrase_pattern

_UNITS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
NUMBER_WORDS: dict[str, int] = {word: index + 1 for index, word in enumerate(_UNITS)}
NUMBER_WORDS |= {word: 20 + 10 * index for index, word in enumerate(_TENS)}
_UNIT_WORDS = "|".join(_UNITS[:9])
# A count written in digits or in words up to ninety-nine: "30", "thirty", "twenty-eight".
_COUNT = rf"(?:\d+|(?:{'|'.join(_TENS)})(?:[\s-](?:{_UNIT_WORDS}))?|{'|'.join(reversed(_UNITS))})"
_DAYS = r"(?:working\s+|business\s+|calendar\s+)?days?"
_ITEMS = r"(?:(?:it|them|items?|anything|any\s+item|unused\s+items?|your\s+order)\s+)?"
_AMOUNT = r"[£$€]\s?\d+(?:[.,]\d{2})?"


def _compile(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(rf"(?<!\w)(?:{p})(?!\w)" for p in patterns), re.IGNORECASE)


RETURNS_WINDOW = _compile(
    rf"(?P<n>{_COUNT})[\s-]+{_DAYS}\s+(?:to\s+(?:return|send\s+{_ITEMS}back)|free\s+returns?"
    r"|returns?(?:\s+(?:window|policy|period))?|money[\s-]back)",
    rf"(?:return|send\s+{_ITEMS}back)\s+{_ITEMS}(?:with)?in\s+(?P<m>{_COUNT})\s+{_DAYS}",
    rf"returns?\s+(?:are\s+)?(?:accepted\s+)?(?:with)?in\s+(?P<k>{_COUNT})\s+{_DAYS}",
)
FREE_RETURNS = _compile(
    r"free\s+returns?",
    r"returns?\s+(?:are|is)\s+(?:always\s+|completely\s+)?free",
    rf"return\s+{_ITEMS}(?:for\s+free|free\s+of\s+charge|at\s+no\s+cost)",
)
LIFETIME_GUARANTEE = _compile(
    r"(?:lifetime|life[\s-]?long)\s+(?:guarantee|warranty)",
    r"(?:guaranteed|guarantee|warranty)\s+for\s+life",
)
YEARS_GUARANTEE = _compile(
    rf"(?P<n>{_COUNT})[\s-]+years?\s+(?:guarantee|warranty)",
    rf"(?:guaranteed|guarantee|warranty)\s+for\s+(?P<m>{_COUNT})\s+years?",
)
MONEY_BACK = _compile(
    r"money[\s-]back\s+guarantee",
    r"satisfaction\s+guaranteed",
    r"guaranteed\s+satisfaction",
    r"100\s?%\s+satisfaction",
)
ANY_GUARANTEE = _compile(r"guarantee[ds]?", r"warrant(?:y|ies)")
NEXT_DAY = _compile(
    r"(?:next|same)[\s-]day\s+(?:delivery|shipping|dispatch)",
    r"deliver(?:ed|y)?\s+(?:by\s+)?tomorrow",
    r"arriv(?:e|es|ing)\s+tomorrow",
    r"(?:with)?in\s+24\s+hours",
)
DELIVERY_DAYS = _compile(
    rf"(?:deliver(?:y|ed|s)?|arriv(?:e|es|ing)|ship(?:s|ped|ping)?|with\s+you)\s+"
    rf"(?:with)?in\s+(?P<n>{_COUNT})\s+{_DAYS}",
    rf"(?P<m>{_COUNT})[\s-]+{_DAYS}\s+(?:delivery|shipping)",
)
FREE_DELIVERY = _compile(
    r"free\s+(?:standard\s+|uk\s+|express\s+|tracked\s+)?(?:delivery|shipping|postage|p\s?&\s?p)"
    rf"(?:\s+(?:on|for)\s+(?:all\s+)?orders?\s+(?:over|above|of|from)\s+(?P<amount>{_AMOUNT}))?",
)


@dataclass(frozen=True)
class Promise:
    """One policy promise found in a text, and whether the brand's policy backs it."""

    start: int
    end: int
    text: str
    kept: bool
    problem: str = ""
    policy: str = ""


def parse_count(text: str) -> int | None:
    """Return the value of "30", "thirty" or "twenty-eight", or None for anything else."""
    words = text.casefold().replace("-", " ").split()
    if len(words) == 1 and words[0].isdigit():
        return int(words[0])
    values = [NUMBER_WORDS.get(word) for word in words]
    if not values or None in values:
        return None
    return sum(value for value in values if value is not None)


def _count(match: re.Match[str]) -> int | None:
    groups = match.groupdict()
    value = next((groups[name] for name in ("n", "m", "k") if groups.get(name)), None)
    return parse_count(value) if value else None


def _mask(text: str, phrase: str | None) -> str:
    if not phrase or not phrase.strip():
        return text
    return phrase_pattern(phrase).sub(lambda match: " " * len(match.group()), text)


def find_promises(inp: CheckInput, text: str) -> list[Promise]:
    """Find every delivery, returns and guarantee promise in `text`, kept or not.

    Offsets refer to `text` after composing accents and folding punctuation, which keeps
    the length of ordinary text.
    """
    text = _mask(fold_punctuation(nfc(text)), inp.allowed_offer)
    promises = (
        _returns_promises(inp.brand, text)
        + _guarantee_promises(inp.brand, text)
        + _delivery_promises(inp, text)
    )
    return sorted(promises, key=lambda promise: promise.start)


def _promise(match: re.Match[str], problem: str | None, policy: str) -> Promise:
    return Promise(
        match.start(), match.end(), match.group(), problem is None, problem or "", policy
    )


# --- returns -----------------------------------------------------------------------------


def _returns_policy(brand: BrandProfile) -> str:
    if brand.returns_window_days is None:
        return "the brand states no returns window"
    free = "free " if brand.free_returns else ""
    return f"{free}returns within {brand.returns_window_days} days of delivery"


def _returns_promises(brand: BrandProfile, text: str) -> list[Promise]:
    policy = _returns_policy(brand)
    promises = []
    for match in RETURNS_WINDOW.finditer(text):
        days = _count(match)
        problem = None
        if brand.returns_window_days is None:
            problem = "the brand states no returns window"
        elif days != brand.returns_window_days:
            problem = f"the returns window is {brand.returns_window_days} days"
        promises.append(_promise(match, problem, policy))
    # NOTE: `free_returns` covers every country, though a brand may offer free returns only
    # at home; a free-returns promise to a customer abroad passes.
    for match in FREE_RETURNS.finditer(text):
        problem = None if brand.free_returns else "returns are not free"
        promises.append(_promise(match, problem, policy))
    return promises


# --- guarantees --------------------------------------------------------------------------


def _guarantee_terms(wording: str) -> set[tuple[str, int | None]]:
    """Return the guarantees a wording gives, such as {("years", 2)} or {("lifetime", None)}."""
    terms: set[tuple[str, int | None]] = set()
    if LIFETIME_GUARANTEE.search(wording):
        terms.add(("lifetime", None))
    if MONEY_BACK.search(wording):
        terms.add(("money_back", None))
    terms.update(("years", _count(match)) for match in YEARS_GUARANTEE.finditer(wording))
    return terms


def _guarantee_promises(brand: BrandProfile, text: str) -> list[Promise]:
    wording = brand.guarantee
    policy = f"the brand's guarantee is {wording!r}" if wording else "the brand gives no guarantee"
    terms = _guarantee_terms(wording or "")
    promises = []
    specific = [
        (LIFETIME_GUARANTEE, lambda match: ("lifetime", None)),
        (MONEY_BACK, lambda match: ("money_back", None)),
        (YEARS_GUARANTEE, lambda match: ("years", _count(match))),
    ]
    claimed: list[tuple[int, int]] = []
    for pattern, term_of in specific:
        for match in pattern.finditer(text):
            problem = None if term_of(match) in terms else policy
            promises.append(_promise(match, problem, policy))
            claimed.append(match.span())
    for match in ANY_GUARANTEE.finditer(text):
        if any(start <= match.start() < end for start, end in claimed):
            continue
        promises.append(_promise(match, None if wording else policy, policy))
    return promises


# --- delivery ----------------------------------------------------------------------------


def _delivery_days(inp: CheckInput) -> int:
    brand, country = inp.brand, inp.context.country
    abroad = bool(country) and country != brand.home_country
    if abroad and brand.international_delivery_days is not None:
        return brand.international_delivery_days
    return brand.delivery_days


def _delivery_policy(inp: CheckInput) -> str:
    brand = inp.brand
    parts = [f"delivery takes {_delivery_days(inp)} working days after dispatch"]
    if brand.next_day_delivery:
        parts.append("next-day delivery is offered")
    if brand.free_delivery_threshold is not None:
        parts.append(f"delivery is free on orders over {brand.free_delivery_threshold}")
    return ", ".join(parts)


def _delivery_promises(inp: CheckInput, text: str) -> list[Promise]:
    brand, policy = inp.brand, _delivery_policy(inp)
    expected = _delivery_days(inp)
    promises = []
    for match in NEXT_DAY.finditer(text):
        problem = None if brand.next_day_delivery else "the brand offers no next-day delivery"
        if "same" in match.group().casefold():
            problem = "the brand offers no same-day delivery"
        promises.append(_promise(match, problem, policy))
    for match in DELIVERY_DAYS.finditer(text):
        days = _count(match)
        problem = None if days == expected else f"delivery takes {expected} working days"
        promises.append(_promise(match, problem, policy))
    for match in FREE_DELIVERY.finditer(text):
        promises.append(_promise(match, _free_delivery_problem(brand, match), policy))
    return promises


def _free_delivery_problem(brand: BrandProfile, match: re.Match[str]) -> str | None:
    threshold = brand.free_delivery_threshold
    if threshold is None:
        return "the brand offers no free delivery"
    amount = match.group("amount")
    if amount is None:
        return f"delivery is free only on orders over {threshold}"
    try:
        value = Decimal(re.sub(r"[^\d.]", "", amount.replace(",", ".")))
    except InvalidOperation:
        return f"delivery is free only on orders over {threshold}"
    return None if value == threshold else f"delivery is free only on orders over {threshold}"


# --- the check ---------------------------------------------------------------------------


def check_policy_promise(inp: CheckInput) -> list[Finding]:
    """Block a promise about delivery, returns or guarantees that the brand's policy lacks."""
    findings = []
    for field, value in inp.fields.items():
        for promise in find_promises(inp, value):
            if not promise.kept:
                findings.append(_promise_finding(field, promise))
    return findings


def _promise_finding(field: str, promise: Promise) -> Finding:
    return Finding(
        check_id="grounding.policy_promise",
        severity=Severity.BLOCK,
        message=f"The {field_label(field)} promises {promise.text!r}, but {promise.problem}.",
        field=field,
        span=promise.text,
        suggestion=f"Remove the promise, or state the policy as it is: {promise.policy}.",
    )
