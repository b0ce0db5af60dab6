"""Draft one message: context, eligibility, retrieval, prompt, model, checks, render, store."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from agent.domain import (
    BrandProfile,
    Channel,
    CustomerContext,
    Draft,
    DraftRequest,
    DraftStatus,
    Finding,
    MessageKind,
    Severity,
    TicketStatus,
)
from agent.drafting.copy import approved_fields, pick_tip
from agent.drafting.kinds import KindSpec, slot_schema, spec_for
from agent.drafting.prompting import (
    TICKET_TEXT_KINDS,
    CustomerText,
    Guideline,
    Reask,
    build_messages,
    customer_texts,
    prompt_chunks,
    reask_for,
    spoken_product,
)
from agent.drafting.render import Tip, render_message
from agent.drafting.sampling import Outcome, Sampler
from agent.drafting.situation import Situation, Sources, situation_for
from agent.guardrails.base import CheckInput, RenderedMessage
from agent.guardrails.compliance import check_eligibility
from agent.guardrails.offers import allowed_offer_for
from agent.guardrails.privacy import find_instructions
from agent.guardrails.runner import run_checks
from agent.guardrails.schedule import SendDecision, next_send_time
from agent.knowledge.retrieval import retrieve_guidelines
from agent.knowledge.store import RetrievedChunk
from agent.llm.base import ChatMessage
from agent.llm.slots import SlotSchema

log = logging.getLogger(__name__)

APPROVED_COPY_MODEL = "approved-copy"


class Ineligible(Exception):
    """The request may not be drafted: consent, suppression or missing facts."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


@dataclass
class Plan:
    """Everything decided before the model is called."""

    request: DraftRequest
    spec: KindSpec
    brand: BrandProfile
    context: CustomerContext
    as_of: datetime
    offer: str | None
    tip: Tip | None
    families: list[str]
    chunks: list[RetrievedChunk]
    schema: SlotSchema
    # Fields the model never writes, such as the email's button label.
    fixed_fields: dict[str, str]
    # Customer-written text the prompt shows inside its fence.
    customer_text: list[CustomerText]
    # The earliest send time, after quiet hours and frequency caps.
    send: SendDecision
    # Kind-specific facts of a loyalty update, referral invite or service recovery.
    situation: Situation


def status_for(findings: list[Finding], fallback_fields: list[str]) -> DraftStatus:
    if any(f.severity == Severity.BLOCK for f in findings):
        return DraftStatus.BLOCKED
    if findings or fallback_fields:
        return DraftStatus.NEEDS_REVIEW
    return DraftStatus.READY


def request_seed(request: DraftRequest, customer_id: str) -> int:
    """Derive a stable sampling seed, so the same request drafts the same copy."""
    key = f"{customer_id}|{request.kind}|{request.channel}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "big")


class Drafter:
    """Runs the drafting pipeline against the services in `agent.drafting.services`."""

    def __init__(self, services) -> None:  # noqa: ANN001 - avoids an import cycle
        self.services = services

    # --- planning ---------------------------------------------------------------

    def plan(self, request: DraftRequest) -> Plan:
        spec = spec_for(request.kind)
        settings = self.services.settings
        brand = self.services.brand(request.brand or settings.default_brand)
        as_of = request.as_of or datetime.now(UTC)
        context = self.services.context_for(request, brand, as_of)
        self._check_eligible(context, brand, request, as_of)
        situation = situation_for(request.kind, context, brand, as_of, Sources(self.services))
        if situation.ineligible is not None:
            raise Ineligible(situation.ineligible)
        spec = situation.spec or spec
        # Raises InvalidTimeZone or NoSendTime before any model call.
        send = next_send_time(context, brand, request.kind, request.channel, as_of)
        offer = allowed_offer_for(context, brand) if request.kind == MessageKind.WINBACK else None
        tip = self._tip_for(context, brand) if request.kind == MessageKind.USAGE_TIP else None
        families = self._families(context, request.kind)
        chunks = retrieve_guidelines(
            self.services.knowledge,
            brand=brand.brand_id,
            kind=request.kind,
            families=families,
            query=f"{spec.purpose} {' '.join(families)}",
            k=settings.retrieval_k,
        )
        schema = slot_schema(request.kind, request.channel, offer, spec=spec)
        fixed: dict[str, str] = {}
        if request.channel == Channel.EMAIL:
            copy = approved_fields(
                brand,
                request.kind,
                request.channel,
                offer,
                variant=situation.copy_variant,
                values=situation.copy_values,
            )
            fixed["call_to_action"] = copy["call_to_action"]
        return Plan(
            request,
            spec,
            brand,
            context,
            as_of,
            offer,
            tip,
            families,
            chunks,
            schema,
            fixed,
            customer_texts(spec, context),
            send,
            situation,
        )

    def _check_eligible(
        self,
        context: CustomerContext,
        brand: BrandProfile,
        request: DraftRequest,
        as_of: datetime,
    ) -> None:
        if context.last_order() is None:
            raise Ineligible(
                Finding(
                    check_id="eligibility.no_order",
                    severity=Severity.BLOCK,
                    message=(
                        f"customer `{context.customer_id}` has no order to write a "
                        f"{request.kind} about"
                    ),
                )
            )
        finding = check_eligibility(context, brand, request.kind, request.channel, as_of)
        if finding is not None:
            raise Ineligible(finding)

    def _tip_for(self, context: CustomerContext, brand: BrandProfile) -> Tip:
        tip = pick_tip(context, brand)
        if tip is None:
            raise Ineligible(
                Finding(
                    check_id="eligibility.no_tip",
                    severity=Severity.BLOCK,
                    message=(
                        f"no care guide of brand `{brand.brand_id}` covers the products in "
                        f"the last order of customer `{context.customer_id}`"
                    ),
                    suggestion="add a guide with matching keywords under the brand's kb folder",
                )
            )
        return tip

    @staticmethod
    def _families(context: CustomerContext, kind: MessageKind) -> list[str]:
        orders = context.orders if kind == MessageKind.WINBACK else [context.last_order()]
        counts: dict[str, int] = {}
        for order in orders:
            if order is None:
                continue
            for line in order.lines:
                if line.family:
                    counts[line.family] = counts.get(line.family, 0) + 1
        return sorted(counts, key=lambda f: (-counts[f], f))[:3]

    # --- drafting ---------------------------------------------------------------

    def draft(self, request: DraftRequest, *, save: bool = True) -> Draft:
        """Draft one message and store it, unless `save` is False."""
        started = time.perf_counter()
        plan = self.plan(request)
        if plan.spec.approved_copy_without_offer and plan.offer is None:
            fields = plan.fixed_fields | self._approved(plan, plan.schema.field_names())
            outcome = Outcome(fields=fields, model=APPROVED_COPY_MODEL)
        else:
            outcome = self._sample(plan)
        checked = self.check_input(plan, outcome.fields)
        rendered = checked.rendered
        findings = retrieval_findings(plan) + outcome.findings + run_checks(checked)
        findings += injection_findings(plan) + list(plan.send.findings)
        findings += list(plan.situation.findings)
        draft = Draft(
            id=secrets.token_hex(6),
            created_at=datetime.now(UTC),
            customer_id=plan.context.customer_id,
            brand=plan.brand.brand_id,
            kind=request.kind,
            channel=request.channel,
            status=status_for(findings, outcome.fallback_fields),
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            fields=outcome.fields,
            fallback_fields=outcome.fallback_fields,
            findings=findings,
            sources=[chunk.to_source() for chunk in plan.chunks],
            model=outcome.model,
            attempts=outcome.attempts,
            attempt_log=outcome.attempt_log,
            send_after=plan.send.send_at if plan.send.send_at > plan.as_of else None,
            prompt_tokens=outcome.prompt_tokens,
            completion_tokens=outcome.completion_tokens,
            latency_ms=round((time.perf_counter() - started) * 1000),
        )
        if save:
            self.services.drafts.save(draft, as_of=plan.as_of)
        return draft

    def _sample(self, plan: Plan) -> Outcome:
        """Sample and reask the model until every field passes, then fall back per field."""
        settings = self.services.settings

        def reask_prompt(
            previous: dict[str, str], findings: list[Finding], subset: SlotSchema
        ) -> list[ChatMessage]:
            return self._messages(plan, subset, reask_for(previous, findings, subset))

        sampler = Sampler(
            self.services.provider,
            schema=plan.schema,
            messages=self._messages(plan, plan.schema),
            check=lambda fields: self._field_findings(plan, fields),
            reask_prompt=reask_prompt,
            approved=lambda names: self._approved(plan, names),
            fixed_fields=plan.fixed_fields,
            samples=settings.llm_samples,
            reask_attempts=settings.reask_attempts,
            temperature=settings.llm_temperature,
            seed=request_seed(plan.request, plan.context.customer_id),
        )
        return sampler.run()

    def _field_findings(self, plan: Plan, fields: dict[str, str]) -> list[Finding]:
        findings = run_checks(self.check_input(plan, fields))
        return [f for f in findings if f.field in plan.schema.field_names()]

    def _approved(self, plan: Plan, names: list[str]) -> dict[str, str]:
        copy = approved_fields(
            plan.brand,
            plan.request.kind,
            plan.request.channel,
            plan.offer,
            variant=plan.situation.copy_variant,
            values=plan.situation.copy_values,
        )
        return {name: copy[name] for name in names}

    def _messages(
        self, plan: Plan, schema: SlotSchema, reask: Reask | None = None
    ) -> list[ChatMessage]:
        """Render the prompt for the fields of `schema`, as a reask when `reask` is given."""
        guidelines = [Guideline(c.title, c.text) for c in prompt_chunks(plan.chunks)]
        return build_messages(
            self.services.settings.prompts_dir,
            spec=plan.spec,
            channel=plan.request.channel,
            brand=plan.brand,
            context=plan.context,
            facts=self._facts(plan),
            guidelines=guidelines,
            schema=schema,
            offer=plan.offer,
            customer_text=plan.customer_text,
            copywriter_note=plan.request.copywriter_note,
            reask=reask,
        )

    def _facts(self, plan: Plan) -> dict[str, str]:
        return self._product_facts(plan) | situation_facts(plan) | plan.situation.prompt_facts

    @staticmethod
    def _product_facts(plan: Plan) -> dict[str, str]:
        names = {f.family_id: f.name for f in plan.brand.families}
        families = ", ".join(names.get(f, f) for f in plan.families) or "gifts and homeware"
        kind = plan.request.kind
        if kind == MessageKind.ORDER_FOLLOWUP:
            return {"Products": families, "Order status": delivery_fact(plan)}
        if kind == MessageKind.USAGE_TIP and plan.tip is not None:
            return {"Product": spoken_product(plan.tip.product, plan.brand)}
        if kind == MessageKind.WINBACK:
            return {"Products they liked": families}
        order = plan.context.last_order()
        product = spoken_product(order.lines[0].description, plan.brand) if order else families
        return {"Product": product}

    def check_input(self, plan: Plan, fields: dict[str, str]) -> CheckInput:
        """Render `fields` as the customer would see them and build the checks' input."""
        return CheckInput(
            context=plan.context,
            brand=plan.brand,
            kind=plan.request.kind,
            channel=plan.request.channel,
            as_of=plan.as_of,
            fields=fields,
            rendered=self._render(plan, fields),
            allowed_offer=plan.offer,
            catalogue=self.services.catalogue(),
        )

    def _render(self, plan: Plan, fields: dict[str, str]) -> RenderedMessage:
        return render_message(
            self.services.settings.templates_dir,
            kind=plan.request.kind,
            channel=plan.request.channel,
            brand=plan.brand,
            context=plan.context,
            fields=fields,
            offer=plan.offer,
            tip=plan.tip,
            situation=plan.situation,
            as_of=plan.as_of,
        )


def delivery_fact(plan: Plan) -> str:
    """Describe the last order's delivery for the prompt, hedging an estimated date."""
    order = plan.context.last_order()
    if order is None or order.delivered_at is None or order.delivered_at > plan.as_of:
        return "on its way"
    return "should have arrived" if order.delivery_estimated else "delivered"


# Ticket categories the prompt may name; any other category is stated as "other".
TICKET_CATEGORIES = frozenset(("delivery", "damaged", "wrong_item", "quality", "billing"))


def situation_facts(plan: Plan) -> dict[str, str]:
    """State an open support ticket and a gift order as facts, never with customer text.

    A kind whose prompt includes ticket text gets it fenced, through `customer_texts`.
    """
    facts: dict[str, str] = {}
    context = plan.context
    if plan.request.kind not in TICKET_TEXT_KINDS and context.open_ticket_count():
        categories = [
            ticket.category if ticket.category in TICKET_CATEGORIES else "other"
            for ticket in context.tickets
            if ticket.status is TicketStatus.OPEN
        ]
        about = ", ".join(dict.fromkeys(c.replace("_", " ") for c in categories))
        facts["Open support ticket"] = f"yes, about {about}" if about else "yes"
    order = context.last_order()
    if order is not None and order.gift_recipient:
        facts["Gift"] = "the order was sent to someone else as a gift"
    return facts


def injection_findings(plan: Plan) -> list[Finding]:
    """Warn about customer text in the prompt that reads like instructions to the model."""
    return [
        finding
        for piece in plan.customer_text
        for finding in find_instructions(piece.text, piece.source)
    ]


# Kinds whose copy depends on the guide for the purchased product family.
GUIDED_KINDS = (MessageKind.USAGE_TIP, MessageKind.REVIEW_REQUEST)


def retrieval_findings(plan: Plan) -> list[Finding]:
    """Flag a draft written without relevant guidelines, so a person reviews it."""
    brand = plan.brand.brand_id
    if not plan.chunks:
        return [
            _finding(
                "retrieval.no_guidelines",
                f"no guideline of brand `{brand}` was relevant enough to use; "
                f"check the brand's kb folder and run `aftercare kb ingest`",
            )
        ]
    guides = [c for c in plan.chunks if c.doc_type == "product_guide"]
    if plan.request.kind in GUIDED_KINDS and not guides:
        families = ", ".join(plan.families) or "none"
        return [
            _finding(
                "retrieval.no_product_guide",
                f"no product guide of brand `{brand}` matched the purchased product "
                f"families ({families})",
            )
        ]
    return []


def _finding(check_id: str, message: str) -> Finding:
    return Finding(check_id=check_id, severity=Severity.WARN, message=message)


__all__ = ["Channel", "Drafter", "Ineligible", "status_for"]
