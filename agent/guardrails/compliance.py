"""Compliance checks: who may receive a marketing message, and what it must contain."""

from __future__ import annotations

from datetime import datetime

from agent.domain import (
    KIND_CLASS,
    BrandProfile,
    Channel,
    CustomerContext,
    Finding,
    MessageClass,
    MessageKind,
    OrderStatus,
    Severity,
)
from agent.guardrails.appropriateness import check_asking
from agent.guardrails.base import CheckInput
from agent.guardrails.catalogue import phrase_key
from agent.guardrails.text import contains_phrase, unescaped_html, visible_text

SMS_OPT_OUT = "Reply STOP to opt out"


def _is_marketing(kind: MessageKind) -> bool:
    return KIND_CLASS[kind] is MessageClass.MARKETING


def _block(check_id: str, message: str, suggestion: str) -> Finding:
    return Finding(
        check_id=check_id, severity=Severity.BLOCK, message=message, suggestion=suggestion
    )


# --- eligibility ----------------------------------------------------------------------------


def check_eligibility(
    context: CustomerContext,
    brand: BrandProfile,
    kind: MessageKind,
    channel: Channel,
    as_of: datetime | None = None,
) -> Finding | None:
    """Return a block finding when this customer must not get this message, else None.

    Transactional kinds need no consent. Marketing email needs recorded consent, or no record
    at all together with the brand's soft opt-in and an order that was not cancelled (the UK
    soft opt-in for existing customers). Marketing SMS needs recorded consent. A review request
    or referral invite also waits while a ticket is open, after a return or after negative
    sentiment (see agent.guardrails.appropriateness); `as_of` sets what counts as recent, and
    without it everything counts.
    """
    if _is_marketing(kind):
        finding = _consent_finding(context, brand, kind, channel)
        if finding is not None:
            return finding
    return check_asking(context, kind, as_of)


def _consent_finding(
    context: CustomerContext, brand: BrandProfile, kind: MessageKind, channel: Channel
) -> Finding | None:
    if channel is Channel.SMS:
        return _sms_consent_finding(context, kind)
    return _email_consent_finding(context, brand, kind)


def _sms_consent_finding(context: CustomerContext, kind: MessageKind) -> Finding | None:
    consent = context.consent.sms_marketing
    if consent is True:
        return None
    state = "opted out of" if consent is False else "has no recorded consent to"
    return _block(
        "compliance.consent",
        f"A {kind.value} SMS is marketing, and the customer {state} SMS marketing.",
        "Send it only after the customer gives SMS marketing consent, or use a "
        "transactional message.",
    )


def _email_consent_finding(
    context: CustomerContext, brand: BrandProfile, kind: MessageKind
) -> Finding | None:
    consent = context.consent.email_marketing
    if consent is True:
        return None
    prefix = f"A {kind.value} email is marketing, and"
    if consent is False:
        return _block(
            "compliance.consent",
            f"{prefix} the customer opted out of email marketing.",
            "Do not send marketing email to this customer unless they opt in again.",
        )
    if not brand.soft_opt_in_email:
        return _block(
            "compliance.consent",
            f"{prefix} the customer has no recorded email marketing consent. The brand does "
            "not use soft opt-in.",
            "Record the customer's email marketing consent, or enable `soft_opt_in_email` "
            "for the brand if existing customers may receive marketing.",
        )
    if not any(order.status is not OrderStatus.CANCELLED for order in context.orders):
        return _block(
            "compliance.consent",
            f"{prefix} the customer has no recorded email marketing consent. Soft opt-in "
            "needs an order that was not cancelled, and the customer has none.",
            "Record the customer's email marketing consent before sending marketing email.",
        )
    return None


# --- footer content --------------------------------------------------------------------------


def _marketing_email(inp: CheckInput) -> bool:
    return _is_marketing(inp.kind) and inp.channel is Channel.EMAIL


def _marketing_sms(inp: CheckInput) -> bool:
    return _is_marketing(inp.kind) and inp.channel is Channel.SMS


def unsubscribe_prefix(brand: BrandProfile) -> str:
    """Return the part of the unsubscribe URL before its `{token}` placeholder."""
    return brand.unsubscribe_url.split("{token}", 1)[0]


def _contains_tokens(text: str, phrase: str) -> bool:
    """Return True when the words of `phrase` appear in order in `text`, ignoring punctuation."""
    needle, haystack = phrase_key(phrase), phrase_key(text)
    if not needle:
        return True
    return any(
        haystack[start : start + len(needle)] == needle
        for start in range(len(haystack) - len(needle) + 1)
    )


def _missing_finding(check_id: str, what: str, part: str, suggestion: str) -> Finding:
    return _block(check_id, f"The {part} of this marketing email lacks {what}.", suggestion)


def check_unsubscribe(inp: CheckInput) -> list[Finding]:
    """Block a marketing email whose text or HTML part lacks the brand's unsubscribe link."""
    if not _marketing_email(inp):
        return []
    prefix = unsubscribe_prefix(inp.brand)
    parts = {
        "text part": inp.rendered.text,
        "HTML part": unescaped_html(inp.rendered.html or ""),
    }
    suggestion = f"Render the compliance footer, which links to {inp.brand.unsubscribe_url!r}."
    return [
        _missing_finding("compliance.unsubscribe", "the unsubscribe link", part, suggestion)
        for part, content in parts.items()
        if prefix not in content
    ]


def check_postal_address(inp: CheckInput) -> list[Finding]:
    """Block a marketing email whose text or HTML part lacks the brand's postal address."""
    if not _marketing_email(inp):
        return []
    address = inp.brand.postal_address
    parts = {
        "text part": inp.rendered.text,
        "HTML part": visible_text(inp.rendered.html or ""),
    }
    suggestion = "Render the compliance footer, which shows the brand's postal address."
    missing = "the brand's postal address"
    return [
        _missing_finding("compliance.postal_address", missing, part, suggestion)
        for part, content in parts.items()
        if not content or not _contains_tokens(content, address)
    ]


def check_sms_opt_out(inp: CheckInput) -> list[Finding]:
    """Block a marketing SMS without the opt-out instruction."""
    if not _marketing_sms(inp) or contains_phrase(inp.rendered.text, SMS_OPT_OUT):
        return []
    return [
        _block(
            "compliance.sms_opt_out",
            f"This marketing SMS lacks the opt-out instruction {SMS_OPT_OUT!r}.",
            f"End the SMS with {SMS_OPT_OUT!r}.",
        )
    ]


def check_sms_brand(inp: CheckInput) -> list[Finding]:
    """Block a marketing SMS that does not name the brand's SMS sender."""
    sender = inp.brand.sms_sender
    if not _marketing_sms(inp) or contains_phrase(inp.rendered.text, sender):
        return []
    return [
        _block(
            "compliance.sms_brand",
            f"This marketing SMS does not name the brand as {sender!r}.",
            f"Start the SMS with {sender + ':'!r} so the customer knows who sent it.",
        )
    ]
