"""Offer checks: discounts only where the brand's ladder allows them, no invented codes, and no
reward for a review."""

from __future__ import annotations

import re
from collections.abc import Iterable

from agent.domain import (
    KIND_CLASS,
    BrandProfile,
    CustomerContext,
    Finding,
    IncentiveStep,
    MessageClass,
    MessageKind,
    Severity,
)
from agent.guardrails.base import CheckInput
from agent.guardrails.text import fold_punctuation, locate_field, phrase_pattern, rendered_parts

_PERCENT = r"\d+(?:[.,]\d+)?\s?(?:%|per\s?cent)"
_AMOUNT = r"(?:[£$€]\s?\d+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?\s?(?:pounds?|euros?|dollars?))"
_YOUR_ORDER = r"(?:\s+(?:on\s+)?your\s+(?:next\s+|first\s+)?(?:order|purchase|basket))?"

# Wording that promotes a price cut or a free extra. Each entry is a regex fragment, and the
# first one that matches at a position wins, so the longer forms come first.
DISCOUNT_PATTERNS: tuple[str, ...] = (
    rf"(?:save|saving|get|take)\s+(?:up\s+to\s+)?(?:{_PERCENT}|{_AMOUNT})"
    rf"(?:\s*(?:off|discount))?{_YOUR_ORDER}",
    rf"(?:up\s+to\s+)?{_PERCENT}\s*(?:off|discount|saving|reduction){_YOUR_ORDER}",
    rf"{_AMOUNT}\s+(?:off|discount|voucher|coupon|credit|saving){_YOUR_ORDER}",
    r"%\s*off",
    r"free\s+(?:next[\s-]day\s+|standard\s+|express\s+|uk\s+)?"
    r"(?:delivery|shipping|postage|p\s?&\s?p|gift)",
    r"half[\s-]price",
    r"discount(?:s|ed)?",
    r"sale",
    r"money\s+off",
    r"buy\s+one,?\s+get\s+one(?:\s+free)?",
    r"bogof",
    r"vouchers?",
    r"coupons?",
    r"promo\s+code",
    r"clearance",
    r"cash\s?back",
    r"off\s+your\s+(?:next\s+|first\s+)?(?:order|purchase|basket)",
)

# Wording that offers something in return for a review, beyond discounts.
REWARD_PATTERNS: tuple[str, ...] = (
    r"prizes?(?:\s+draw)?",
    r"(?:enter|entry|entries)\s+(?:into\s+|in\s+|to\s+)?(?:a\s+|our\s+|the\s+|this\s+)?"
    r"(?:monthly\s+|weekly\s+|free\s+)?(?:prize\s+)?draw",
    r"chance\s+to\s+win",
    r"win\s+(?:a|an|one|our|the)",
    r"giveaways?",
    r"gift\s+cards?",
    r"free\s+gifts?",
    r"thank[\s-]you\s+gift",
    r"rewards?",
    r"rewarded",
    r"(?:loyalty|bonus|reward)\s+points",
    r"\d+\s+points",
    r"in\s+return\s+for",
    r"incentives?",
    r"competition",
    r"sweepstakes?",
    r"raffle",
)

# A code written after one of these words, or a standalone token mixing upper-case letters
# and digits, reads as a discount code.
_CODE_AFTER_KEYWORD = re.compile(
    r"(?<!\w)(?:code|coupon|voucher|promo)(?:\s+code)?(?!\w)(?:\s+is)?\s*:?\s*"
    r"(?P<token>[A-Za-z0-9][A-Za-z0-9_-]{2,19})"
)
_CODE_TOKEN = re.compile(
    r"(?<![\w{-])(?=[A-Z0-9-]*[A-Z])(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{2,13}[A-Z0-9](?![\w}-])"
)
# Upper-case tokens with digits that are not codes: times ("10AM") and ordinals ("2ND").
_NOT_A_CODE = re.compile(r"\d{1,2}(?:AM|PM)|\d+(?:ST|ND|RD|TH)")
# Links and the platform's {{...}} placeholders may hold tokens that are not discount codes.
_LINK_OR_PLACEHOLDER = re.compile(r"https?://\S+|\{\{[^{}]*\}\}")
OFFER_CODE_PLACEHOLDER = "{{offer_code}}"


def _compile(patterns: Iterable[str]) -> re.Pattern[str]:
    bounded = (rf"(?<![\w£$€])(?:{pattern})(?!\w)" for pattern in patterns)
    return re.compile("|".join(bounded), re.IGNORECASE)


_DISCOUNT = _compile(DISCOUNT_PATTERNS)
_REWARD = _compile(REWARD_PATTERNS + DISCOUNT_PATTERNS)


# --- the incentive ladder -----------------------------------------------------------------


def ladder_step_for(context: CustomerContext, brand: BrandProfile) -> IncentiveStep | None:
    """Return the ladder rung with the highest `min_lifetime_spend` the customer has reached."""
    spend = context.lifetime_spend()
    reached = [step for step in brand.incentive_ladder if step.min_lifetime_spend <= spend]
    return max(reached, key=lambda step: step.min_lifetime_spend, default=None)


def allowed_offer_for(context: CustomerContext, brand: BrandProfile) -> str | None:
    """Return the offer text of the customer's ladder rung; None when the rung has no offer."""
    step = ladder_step_for(context, brand)
    return step.offer if step else None


# --- shared scanning -----------------------------------------------------------------------


def _mask(text: str, phrase: str | None) -> str:
    """Blank out exact occurrences of `phrase` (case kept, spacing free) from `text`."""
    if not phrase or not phrase.strip():
        return text
    pattern = phrase_pattern(phrase, ignore_case=False)
    return pattern.sub(lambda match: " " * len(match.group()), text)


def _unique_matches(pattern: re.Pattern[str], parts: Iterable[str]) -> list[str]:
    """Return each distinct match of `pattern` in `parts`, in order, ignoring case and spacing."""
    seen: set[str] = set()
    found = []
    for part in parts:
        for match in pattern.finditer(fold_punctuation(part)):
            span = " ".join(match.group().split())
            if span.casefold() not in seen:
                seen.add(span.casefold())
                found.append(span)
    return found


# --- offers.discount ------------------------------------------------------------------------


def check_discount(inp: CheckInput) -> list[Finding]:
    """Block discount wording in a transactional message, or other than the allowed offer."""
    parts = [fold_punctuation(part) for part in rendered_parts(inp, with_html=True)]
    if KIND_CLASS[inp.kind] is MessageClass.MARKETING:
        parts = [_mask(part, inp.allowed_offer) for part in parts]
    return [_discount_finding(inp, span) for span in _unique_matches(_DISCOUNT, parts)]


def _discount_finding(inp: CheckInput, span: str) -> Finding:
    if KIND_CLASS[inp.kind] is MessageClass.TRANSACTIONAL:
        message = (
            f"The {inp.kind.value} message contains the offer wording {span!r}, but order "
            "follow-ups, usage tips and other transactional messages never promote or discount."
        )
        suggestion = "Remove the offer wording."
    elif inp.allowed_offer:
        message = (
            f"The message contains the offer wording {span!r}, but the only offer allowed for "
            f"this customer is {inp.allowed_offer!r}, written exactly like that."
        )
        suggestion = f"Replace the offer wording with {inp.allowed_offer!r}, or remove it."
    else:
        message = f"The message contains the offer wording {span!r}, but {_no_offer_reason(inp)}."
        suggestion = "Remove the offer wording."
    return Finding(
        check_id="offers.discount",
        severity=Severity.BLOCK,
        message=message,
        field=locate_field(inp.fields, span),
        span=span,
        suggestion=suggestion,
    )


def _no_offer_reason(inp: CheckInput) -> str:
    step = ladder_step_for(inp.context, inp.brand)
    if step is None:
        return "no rung of the brand's incentive ladder applies to this customer"
    return f"the customer's segment {step.segment!r} has no offer"


# --- offers.code ----------------------------------------------------------------------------


def _known_tokens(inp: CheckInput) -> set[str]:
    """Code-like tokens that come from the brand or the customer's orders, not the model."""
    brand = inp.brand
    sources = [brand.name, brand.postal_address, brand.sms_sender, brand.shop_url]
    sources += [brand.unsubscribe_url, brand.review_url, inp.allowed_offer or ""]
    for order in inp.context.orders:
        sources.append(order.order_id)
        sources.extend(f"{line.stock_code} {line.description}" for line in order.lines)
    return {match.group().casefold() for text in sources for match in _CODE_TOKEN.finditer(text)}


def _code_candidates(text: str) -> list[str]:
    # The bar stops a code keyword from reaching past a removed placeholder to the next word.
    text = _LINK_OR_PLACEHOLDER.sub(" | ", text)
    candidates = []
    for match in _CODE_AFTER_KEYWORD.finditer(text):
        token = match.group("token")
        if any(ch.isdigit() for ch in token) or (token.isupper() and len(token) >= 4):
            candidates.append(token)
    candidates.extend(match.group() for match in _CODE_TOKEN.finditer(text))
    return [token for token in candidates if not _NOT_A_CODE.fullmatch(token)]


def check_code(inp: CheckInput) -> list[Finding]:
    """Block discount codes written into the message, unless the brand's `offer_codes` list
    them. Any other code comes from the platform's placeholder."""
    known = _known_tokens(inp) | {code.casefold() for code in inp.brand.offer_codes}
    seen: set[str] = set()
    findings = []
    for part in rendered_parts(inp, with_html=True):
        for token in _code_candidates(part):
            if token.casefold() in known or token.casefold() in seen:
                continue
            seen.add(token.casefold())
            findings.append(_code_finding(inp, token))
    return findings


def _code_finding(inp: CheckInput, token: str) -> Finding:
    return Finding(
        check_id="offers.code",
        severity=Severity.BLOCK,
        message=f"The message contains {token!r}, which looks like a discount code and is not "
        "in the brand's `offer_codes`. Other codes come only from the sending platform.",
        field=locate_field(inp.fields, token),
        span=token,
        suggestion=f"Remove the code, and write {OFFER_CODE_PLACEHOLDER} where the allowed "
        "offer needs one.",
    )


# --- offers.review_reward -------------------------------------------------------------------


# Kinds that ask the customer to speak for the brand, so any reward reads as paying for praise.
# A referral invite may also ask an advocate for a photo or video review.
REWARD_FREE_KINDS = frozenset({MessageKind.REVIEW_REQUEST, MessageKind.REFERRAL_INVITE})


def check_review_reward(inp: CheckInput) -> list[Finding]:
    """Block a review request or referral invite that offers a discount, prize, draw entry
    or gift."""
    if inp.kind not in REWARD_FREE_KINDS:
        return []
    spans = _unique_matches(_REWARD, rendered_parts(inp, with_html=True))
    return [_reward_finding(inp, span) for span in spans]


def _reward_finding(inp: CheckInput, span: str) -> Finding:
    label = inp.kind.value.replace("_", " ")
    return Finding(
        check_id="offers.review_reward",
        severity=Severity.BLOCK,
        message=f"The {label} contains {span!r}. A {label} must not offer a "
        "discount, prize, draw entry or gift.",
        field=locate_field(inp.fields, span),
        span=span,
        suggestion="Remove the reward and ask for an honest review with nothing in return.",
    )
