"""Draft one message: context, eligibility, retrieval, prompt, model, checks, render, store."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass, field
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
)
from agent.drafting.copy import approved_fields, pick_tip
from agent.drafting.kinds import KindSpec, slot_schema, spec_for
from agent.drafting.prompting import Guideline, build_messages, prompt_chunks, spoken_product
from agent.drafting.render import Tip, render_message
from agent.guardrails.base import CheckInput, RenderedMessage
from agent.guardrails.compliance import check_eligibility
from agent.guardrails.offers import allowed_offer_for
from agent.guardrails.runner import run_checks
from agent.knowledge.retrieval import retrieve_guidelines
from agent.knowledge.store import RetrievedChunk
from agent.llm.base import LLMError
from agent.llm.slots import OutputInvalid, SlotSchema

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


@dataclass
class Outcome:
    """The fields chosen for the message and how they were obtained."""

    fields: dict[str, str]
    model: str
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    fallback_fields: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


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
        self._check_eligible(context, brand, request)
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
        schema = slot_schema(request.kind, request.channel, offer)
        fixed: dict[str, str] = {}
        if request.channel == Channel.EMAIL:
            copy = approved_fields(brand, request.kind, request.channel, offer)
            fixed["call_to_action"] = copy["call_to_action"]
        return Plan(
            request, spec, brand, context, as_of, offer, tip, families, chunks, schema, fixed
        )

    def _check_eligible(
        self, context: CustomerContext, brand: BrandProfile, request: DraftRequest
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
        finding = check_eligibility(context, brand, request.kind, request.channel)
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
        rendered = self._render(plan, outcome.fields)
        findings = retrieval_findings(plan) + outcome.findings
        findings += run_checks(self._check_input(plan, outcome.fields, rendered))
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
            prompt_tokens=outcome.prompt_tokens,
            completion_tokens=outcome.completion_tokens,
            latency_ms=round((time.perf_counter() - started) * 1000),
        )
        if save:
            self.services.drafts.save(draft)
        return draft

    def _sample(self, plan: Plan) -> Outcome:
        """Sample the model until a draft passes every check, then fall back per field."""
        provider = self.services.provider
        settings = self.services.settings
        messages = self._messages(plan)
        seed = request_seed(plan.request, plan.context.customer_id)
        outcome = Outcome(fields={}, model=provider.model_name)
        best: tuple[dict[str, str], list[Finding]] | None = None
        problems: list[str] = []
        for attempt in range(settings.llm_samples):
            try:
                completion = provider.complete(
                    messages, plan.schema, temperature=settings.llm_temperature, seed=seed + attempt
                )
            except LLMError as error:
                log.warning("model call failed for kind=%s: %s", plan.request.kind, error)
                outcome.findings.append(_finding("llm.failed", f"the model call failed: {error}"))
                break
            outcome.attempts += 1
            outcome.prompt_tokens += completion.prompt_tokens
            outcome.completion_tokens += completion.completion_tokens
            try:
                fields = plan.fixed_fields | plan.schema.parse(completion.text)
            except OutputInvalid as error:
                problems.append(str(error))
                continue
            field_findings = self._field_findings(plan, fields)
            if not field_findings:
                outcome.fields = fields
                return outcome
            problems.extend(f.message for f in field_findings)
            if best is None or len(field_findings) < len(best[1]):
                best = (fields, field_findings)
        return self._fall_back(plan, outcome, best, problems)

    def _fall_back(
        self,
        plan: Plan,
        outcome: Outcome,
        best: tuple[dict[str, str], list[Finding]] | None,
        problems: list[str],
    ) -> Outcome:
        names = plan.schema.field_names()
        fields, failing = (dict(best[0]), {f.field for f in best[1]}) if best else ({}, set(names))
        replaced = [name for name in names if name in failing or name not in fields]
        fields.update(self._approved(plan, replaced))
        outcome.fields = plan.fixed_fields | {name: fields[name] for name in names}
        outcome.fallback_fields = replaced
        reasons = "; ".join(dict.fromkeys(problems))[:600] or "no usable model output"
        outcome.findings.append(
            _finding(
                "drafting.fallback",
                f"{', '.join(replaced)} fell back to approved copy after "
                f"{outcome.attempts} model sample(s): {reasons}",
            )
        )
        return outcome

    def _field_findings(self, plan: Plan, fields: dict[str, str]) -> list[Finding]:
        rendered = self._render(plan, fields)
        findings = run_checks(self._check_input(plan, fields, rendered))
        return [f for f in findings if f.field in plan.schema.field_names()]

    def _approved(self, plan: Plan, names: list[str]) -> dict[str, str]:
        copy = approved_fields(plan.brand, plan.request.kind, plan.request.channel, plan.offer)
        return {name: copy[name] for name in names}

    def _messages(self, plan: Plan):  # noqa: ANN202
        guidelines = [Guideline(c.title, c.text) for c in prompt_chunks(plan.chunks)]
        return build_messages(
            self.services.settings.prompts_dir,
            spec=plan.spec,
            channel=plan.request.channel,
            brand=plan.brand,
            context=plan.context,
            facts=self._facts(plan),
            guidelines=guidelines,
            schema=plan.schema,
            offer=plan.offer,
        )

    def _facts(self, plan: Plan) -> dict[str, str]:
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
        )

    def _check_input(
        self, plan: Plan, fields: dict[str, str], rendered: RenderedMessage
    ) -> CheckInput:
        return CheckInput(
            context=plan.context,
            brand=plan.brand,
            kind=plan.request.kind,
            channel=plan.request.channel,
            as_of=plan.as_of,
            fields=fields,
            rendered=rendered,
            allowed_offer=plan.offer,
            catalogue=self.services.catalogue(),
        )


def delivery_fact(plan: Plan) -> str:
    """Describe the last order's delivery for the prompt, hedging an estimated date."""
    order = plan.context.last_order()
    if order is None or order.delivered_at is None or order.delivered_at > plan.as_of:
        return "on its way"
    return "should have arrived" if order.delivery_estimated else "delivered"


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
