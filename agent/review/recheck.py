"""Render a draft's fields again and run the guardrails on them, as the pipeline did.

A stored draft keeps its fields but not the moment it was drafted for, and the customer's
context depends on that moment (which orders exist, whether the last one has arrived).
`drafting_facts` therefore looks for the moment at which rendering the stored fields
reproduces the stored text, and reports when none does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from agent.context.store import CustomerNotFound
from agent.domain import (
    BrandProfile,
    CustomerContext,
    Draft,
    Finding,
    MessageKind,
)
from agent.drafting.copy import pick_tip
from agent.drafting.pipeline import status_for
from agent.drafting.render import Tip, render_message
from agent.drafting.services import Services
from agent.drafting.templating import TemplateError
from agent.guardrails.base import CheckInput, RenderedMessage
from agent.guardrails.offers import allowed_offer_for
from agent.guardrails.runner import run_checks

# Moments tried when looking for the one a draft was made for: its creation time, then the
# placing and estimated delivery of the customer's latest orders, newest first.
MAX_CANDIDATE_MOMENTS = 60
# Findings about when to send, not about the copy, which an edit keeps from the version before.
TIMING_CHECKS = frozenset({"compliance.quiet_hours", "compliance.frequency_cap"})


class ContextUnavailable(LookupError):
    """The draft's customer is not in the database, so its checks cannot run again."""

    def __init__(self, draft: Draft) -> None:
        super().__init__(
            f"customer `{draft.customer_id}` of draft `{draft.id}` is not in the database "
            "(the draft was probably made from an inline context), so its guardrails cannot "
            "run again; import the customer first, or draft a new message"
        )
        self.draft_id = draft.id


@dataclass(frozen=True)
class DraftingFacts:
    """The facts the template and checks need besides the fields, as of `as_of`."""

    brand: BrandProfile
    context: CustomerContext
    as_of: datetime
    offer: str | None
    tip: Tip | None
    # True when rendering the stored fields with these facts gives the stored text.
    reproduced: bool


@dataclass(frozen=True)
class Checked:
    """A draft's content after rendering fields again and running every check."""

    draft: Draft
    rendered: RenderedMessage

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.draft.findings if f.severity == "block"]


def drafting_facts(
    services: Services, draft: Draft, as_of: datetime | None = None
) -> DraftingFacts:
    """Rebuild the facts the draft was rendered with; `as_of` pins the moment when known.

    Raises ContextUnavailable for a customer missing from the database, and BrandNotFound
    for a brand missing from the knowledge base.
    """
    brand = services.brand(draft.brand)
    moments = [as_of] if as_of else _candidate_moments(services, draft, brand)
    first: DraftingFacts | None = None
    for moment in moments:
        facts = _facts_at(services, draft, brand, moment)
        if facts.reproduced:
            return facts
        first = first or facts
    assert first is not None  # moments always contains at least one time
    return first


def _facts_at(
    services: Services, draft: Draft, brand: BrandProfile, as_of: datetime
) -> DraftingFacts:
    try:
        context = services.contexts.load(draft.customer_id, as_of=as_of, brand=brand)
    except CustomerNotFound:
        raise ContextUnavailable(draft) from None
    offer = allowed_offer_for(context, brand) if draft.kind == MessageKind.WINBACK else None
    tip = pick_tip(context, brand) if draft.kind == MessageKind.USAGE_TIP else None
    facts = DraftingFacts(brand, context, as_of, offer, tip, reproduced=False)
    try:
        rendered = render(services, facts, draft, draft.fields)
    except (KeyError, TemplateError):
        # The context at this moment lacks something the template needs, such as an order.
        return facts
    same = rendered.text.strip() == draft.text.strip()
    return DraftingFacts(brand, context, as_of, offer, tip, reproduced=same)


def _candidate_moments(services: Services, draft: Draft, brand: BrandProfile) -> list[datetime]:
    latest = max(draft.created_at, datetime.now(UTC))
    try:
        context = services.contexts.load(draft.customer_id, as_of=latest, brand=brand)
    except CustomerNotFound:
        raise ContextUnavailable(draft) from None
    moments = {draft.created_at}
    for order in context.orders:
        moments.add(order.placed_at)
        if order.delivered_at is not None:
            moments.add(order.delivered_at)
    ordered = sorted(moments - {draft.created_at}, reverse=True)
    return [draft.created_at, *ordered][:MAX_CANDIDATE_MOMENTS]


def render(
    services: Services, facts: DraftingFacts, draft: Draft, fields: dict[str, str]
) -> RenderedMessage:
    return render_message(
        services.settings.templates_dir,
        kind=draft.kind,
        channel=draft.channel,
        brand=facts.brand,
        context=facts.context,
        fields=fields,
        offer=facts.offer,
        tip=facts.tip,
        as_of=facts.as_of,
    )


def check_fields(
    services: Services, facts: DraftingFacts, draft: Draft, fields: dict[str, str]
) -> Checked:
    """Render `fields` in place of the draft's and run every guardrail on the result.

    The returned draft has the new fields, text, HTML, findings and status. Its sources and
    model usage stay those of `draft`, and its timing findings are carried over.
    """
    rendered = render(services, facts, draft, fields)
    check_input = CheckInput(
        context=facts.context,
        brand=facts.brand,
        kind=draft.kind,
        channel=draft.channel,
        as_of=facts.as_of,
        fields=fields,
        rendered=rendered,
        allowed_offer=facts.offer,
        catalogue=services.catalogue(),
    )
    timing = [f for f in draft.findings if f.check_id in TIMING_CHECKS]
    # Approved copy the edit left as it was is still fallback copy.
    fallback = [n for n in draft.fallback_fields if fields.get(n) == draft.fields.get(n)]
    findings = run_checks(check_input) + timing
    updated = draft.model_copy(
        update={
            "fields": dict(fields),
            "subject": rendered.subject,
            "text": rendered.text,
            "html": rendered.html,
            "findings": findings,
            "fallback_fields": fallback,
            "status": status_for(findings, fallback),
        }
    )
    return Checked(updated, rendered)
