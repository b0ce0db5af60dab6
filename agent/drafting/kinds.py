"""Slot schemas per message kind: the fields the model writes and their fixed openings.

The model fills only short fields. The template writes the greeting, the order facts,
the verbatim care tip, links and the compliance footer, so every name, number and
product in a message comes from the context or the brand's documents.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from agent.domain import Channel, MessageKind
from agent.llm.slots import Slot, SlotSchema

# Grammar limits sit above the guardrails' limits (subject 60, body 320 characters) so
# that an overrun fails a named check instead of being cut. The call to action is a
# button label from the brand's approved copy, never model-written.
SUBJECT_MAX_CHARS = 70
EMAIL_BODY_MAX_CHARS = 330
SMS_BODY_MAX_CHARS = 130


@dataclass(frozen=True)
class KindSpec:
    kind: MessageKind
    purpose: str
    subject_prefix: str
    body_prefix: str
    email_sentences: int
    subject_suffix: str = ""
    # Kinds whose prompt may see the customer's own review text, fenced as data.
    uses_reviews: bool = False
    # Kinds that never call the model when no offer applies: measured acceptability of
    # model copy without an offer was too low, so approved copy is used instead.
    approved_copy_without_offer: bool = False


SPECS: dict[MessageKind, KindSpec] = {
    MessageKind.ORDER_FOLLOWUP: KindSpec(
        kind=MessageKind.ORDER_FOLLOWUP,
        purpose="thank the customer for their order and tell them it is on its way or has arrived",
        subject_prefix="Your order",
        body_prefix="Thank you for",
        email_sentences=2,
    ),
    MessageKind.USAGE_TIP: KindSpec(
        kind=MessageKind.USAGE_TIP,
        purpose="introduce a care tip for something the customer bought recently",
        subject_prefix="A tip for",
        body_prefix="We hope you are enjoying your",
        email_sentences=1,
        uses_reviews=True,
    ),
    MessageKind.REVIEW_REQUEST: KindSpec(
        kind=MessageKind.REVIEW_REQUEST,
        purpose="ask the customer to review what they bought, with no reward for the review",
        subject_prefix="How are you finding",
        subject_suffix="?",
        body_prefix="We hope you are enjoying your",
        email_sentences=2,
    ),
    MessageKind.WINBACK: KindSpec(
        kind=MessageKind.WINBACK,
        purpose="welcome back a customer who has not ordered for a while",
        subject_prefix="We have missed you",
        body_prefix="It has been a while",
        email_sentences=1,
        uses_reviews=True,
        approved_copy_without_offer=True,
    ),
    MessageKind.LOYALTY_UPDATE: KindSpec(
        kind=MessageKind.LOYALTY_UPDATE,
        purpose="thank a loyalty member and introduce an update on their points",
        subject_prefix="An update on your points",
        body_prefix="Thank you for",
        email_sentences=1,
    ),
    MessageKind.REFERRAL_INVITE: KindSpec(
        kind=MessageKind.REFERRAL_INVITE,
        purpose=(
            "thank a loyal customer and invite them to share the shop with a friend through "
            "their personal link, with no reward"
        ),
        subject_prefix="Know someone who",
        subject_suffix="?",
        body_prefix="Thank you for",
        email_sentences=2,
    ),
    # The body opening names what went wrong; see `recovery_spec`.
    MessageKind.SERVICE_RECOVERY: KindSpec(
        kind=MessageKind.SERVICE_RECOVERY,
        purpose=(
            "apologise for what went wrong with the customer's order, without selling "
            "anything and without asking for a review"
        ),
        subject_prefix="We are sorry about",
        body_prefix="We are sorry that",
        email_sentences=1,
    ),
}

# Variants of a kind, keyed by (kind, variant). A variant's approved copy has the key
# `<kind>/<variant>` in the brand's approved copy.
UGC = "ugc"
VARIANT_SPECS: dict[tuple[MessageKind, str], KindSpec] = {
    (MessageKind.REFERRAL_INVITE, UGC): KindSpec(
        kind=MessageKind.REFERRAL_INVITE,
        purpose=(
            "thank the customer for their kind review and ask for a photo or short video of "
            "what they bought, with no reward"
        ),
        subject_prefix="Could you show us your",
        subject_suffix="?",
        body_prefix="Thank you for your kind review",
        email_sentences=2,
    ),
}


def spec_for(kind: MessageKind, variant: str | None = None) -> KindSpec:
    """Return the slot spec of a kind, or of one of its variants, such as `ugc`."""
    if variant is not None:
        try:
            return VARIANT_SPECS[(kind, variant)]
        except KeyError:
            known = ", ".join(sorted(v for k, v in VARIANT_SPECS if k == kind)) or "none"
            raise UnsupportedKind(
                f"`{kind}` has no variant {variant!r}; its variants: {known}"
            ) from None
    try:
        return SPECS[kind]
    except KeyError:
        supported = ", ".join(sorted(SPECS))
        raise UnsupportedKind(
            f"drafting `{kind}` is not supported yet; supported kinds: {supported}"
        ) from None


def recovery_spec(problem: str) -> KindSpec:
    """Return the service-recovery spec whose body opens by naming `problem`.

    The opening "We are sorry that <problem>," comes from the brand's recovery policy, so
    the apology names what went wrong in the brand's words, never in the customer's.
    """
    base = SPECS[MessageKind.SERVICE_RECOVERY]
    return replace(base, body_prefix=f"{base.body_prefix} {problem},")


class UnsupportedKind(ValueError):
    pass


def offer_sentence(offer: str) -> str:
    return f" As a thank you for shopping with us, enjoy {offer}."


def slot_schema(
    kind: MessageKind, channel: Channel, offer: str | None, *, spec: KindSpec | None = None
) -> SlotSchema:
    """Build the slot schema for one kind and channel; `offer` is appended verbatim.

    `spec` replaces the kind's own spec, for a variant or a service-recovery opening.
    """
    spec = spec or spec_for(kind)
    suffix = offer_sentence(offer) if offer else ""
    if channel == Channel.SMS:
        body = Slot(
            "body",
            SMS_BODY_MAX_CHARS,
            min_chars=20,
            prefix=spec.body_prefix,
            suffix=suffix,
            sentences=1,
        )
        return SlotSchema(f"{kind}_sms", (body,))
    subject = Slot(
        "subject",
        SUBJECT_MAX_CHARS,
        min_chars=12,
        prefix=spec.subject_prefix,
        suffix=spec.subject_suffix,
        sentences=0,
    )
    body = Slot(
        "body",
        EMAIL_BODY_MAX_CHARS,
        min_chars=30,
        prefix=spec.body_prefix,
        suffix=suffix,
        sentences=spec.email_sentences,
    )
    return SlotSchema(f"{kind}_email", (subject, body))
