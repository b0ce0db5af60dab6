"""Score one draft: its case's expectations, then grounding, readability, length and cost."""

from __future__ import annotations

from datetime import datetime

import textstat

from agent.domain import BrandProfile, Channel, CustomerContext, Draft, MessageKind
from agent.drafting.pipeline import APPROVED_COPY_MODEL
from agent.evals.golden import Expectations, GoldenCase, LengthBounds, TextRule
from agent.evals.results import CheckResult, Outcome
from agent.guardrails.base import CheckInput, RenderedMessage
from agent.guardrails.grounding import check_names, check_numbers, check_products
from agent.guardrails.offers import allowed_offer_for
from agent.guardrails.sms import count_sms
from agent.guardrails.text import fold_punctuation, nfc

# Checks whose findings mean the text names something the context does not contain.
GROUNDING_CHECK_IDS = frozenset({"grounding.names", "grounding.numbers", "grounding.products"})

DRAFTED = frozenset({Outcome.READY, Outcome.NEEDS_REVIEW, Outcome.BLOCKED})

Metrics = dict[str, float | int | bool | str | None]


def normalise(text: str) -> str:
    """Fold case, accents' composition, curly quotes, dashes and whitespace for matching."""
    return " ".join(fold_punctuation(nfc(text)).casefold().split())


def area_text(draft: Draft, rule: TextRule) -> str:
    if rule.where == "subject":
        return draft.subject or ""
    if rule.where == "body":
        return draft.fields.get("body", "")
    return f"{draft.subject or ''}\n{draft.text}"


def contains(draft: Draft, rule: TextRule) -> bool:
    return normalise(rule.text) in normalise(area_text(draft, rule))


# --- expectations ------------------------------------------------------------------------


def check_expectations(
    case: GoldenCase,
    outcome: Outcome,
    draft: Draft | None,
    *,
    ineligible_id: str | None = None,
    ineligible_reason: str | None = None,
    error: str | None = None,
) -> list[CheckResult]:
    """Check every expectation of `case` against what the pipeline produced.

    A case that errored gets one failed `draft` check. A request that was not drafted is
    checked for its status and findings only, because there is no text to look at.
    """
    expect = case.expect
    if outcome is Outcome.ERROR:
        return [CheckResult(name="draft", passed=False, detail=error or "drafting failed")]
    if outcome is Outcome.SKIPPED:
        return [CheckResult(name="draft", passed=False, detail=error or "kind not supported")]
    if draft is None:
        found = [ineligible_id] if ineligible_id else []
        checks = [_ineligible_check(expect, ineligible_id, ineligible_reason)]
        return checks + _finding_checks(expect, found)
    checks = [_status_check(expect, draft)]
    checks += [_fact_check(draft, rule) for rule in expect.facts]
    checks += [_absence_check(draft, rule) for rule in expect.must_not_contain]
    checks += _finding_checks(expect, [finding.check_id for finding in draft.findings])
    if expect.send_after is not None:
        checks.append(_send_after_check(expect.send_after, draft.send_after, case.as_of))
    if expect.length is not None:
        checks += _length_checks(expect.length, draft)
    return checks


def _ineligible_check(
    expect: Expectations, ineligible_id: str | None, reason: str | None
) -> CheckResult:
    if expect.ineligible is None:
        expected = ", ".join(status.value for status in expect.status or [])
        return CheckResult(
            name="status",
            passed=False,
            detail=f"expected a draft ({expected}) but the request was not drafted: "
            f"{ineligible_id}: {reason or ''}".rstrip(": "),
        )
    passed = ineligible_id == expect.ineligible
    detail = "" if passed else f"expected ineligible by {expect.ineligible}, got {ineligible_id}"
    return CheckResult(name="ineligible", passed=passed, detail=detail)


def _status_check(expect: Expectations, draft: Draft) -> CheckResult:
    if expect.ineligible is not None:
        return CheckResult(
            name="ineligible",
            passed=False,
            detail=f"expected ineligible by {expect.ineligible}, but a draft was made "
            f"with status {draft.status.value}",
        )
    allowed = expect.status or []
    passed = draft.status in allowed
    detail = ""
    if not passed:
        expected = " or ".join(status.value for status in allowed)
        found = ", ".join(f.check_id for f in draft.findings) or "no findings"
        detail = f"expected {expected}, got {draft.status.value} ({found})"
    return CheckResult(name="status", passed=passed, detail=detail)


def _fact_check(draft: Draft, rule: TextRule) -> CheckResult:
    passed = contains(draft, rule)
    detail = "" if passed else f"{rule.text!r} not found in the {rule.where}"
    return CheckResult(name=f"fact: {rule.label()}", passed=passed, detail=detail)


def _absence_check(draft: Draft, rule: TextRule) -> CheckResult:
    passed = not contains(draft, rule)
    detail = "" if passed else f"{rule.text!r} appears in the {rule.where}"
    return CheckResult(name=f"excludes: {rule.label()}", passed=passed, detail=detail)


def _finding_checks(expect: Expectations, found: list[str]) -> list[CheckResult]:
    checks = []
    for check_id in expect.findings_expected:
        passed = check_id in found
        detail = "" if passed else f"not reported; findings: {', '.join(found) or 'none'}"
        checks.append(
            CheckResult(name=f"finding expected: {check_id}", passed=passed, detail=detail)
        )
    for check_id in expect.findings_forbidden:
        passed = check_id not in found
        detail = "" if passed else "reported"
        checks.append(
            CheckResult(name=f"finding forbidden: {check_id}", passed=passed, detail=detail)
        )
    return checks


def _send_after_check(expected: bool, send_after: datetime | None, as_of: datetime) -> CheckResult:
    later = send_after is not None and send_after > as_of
    passed = later == expected
    if passed:
        detail = ""
    elif expected:
        detail = f"expected a send time after {as_of.isoformat()}, got {send_after}"
    else:
        detail = f"expected no later send time, got {send_after}"
    return CheckResult(name="send_after", passed=passed, detail=detail)


def _length_checks(bounds: LengthBounds, draft: Draft) -> list[CheckResult]:
    words = len(draft.text.split())
    chars = len(draft.text)
    measured = {"words": words, "chars": chars}
    checks = []
    for unit, value in measured.items():
        low, high = getattr(bounds, f"min_{unit}"), getattr(bounds, f"max_{unit}")
        if low is not None:
            checks.append(_bound_check(f"length.min_{unit}", value >= low, f"{value} < {low}"))
        if high is not None:
            checks.append(_bound_check(f"length.max_{unit}", value <= high, f"{value} > {high}"))
    if bounds.max_sms_segments is not None:
        segments = count_sms(draft.text).segments
        limit = bounds.max_sms_segments
        checks.append(
            _bound_check("length.max_sms_segments", segments <= limit, f"{segments} > {limit}")
        )
    return checks


def _bound_check(name: str, passed: bool, detail: str) -> CheckResult:
    return CheckResult(name=name, passed=passed, detail="" if passed else detail)


# --- metrics -------------------------------------------------------------------------------


def model_written_fields(draft: Draft) -> dict[str, str]:
    """Return the fields the model wrote and kept: none for approved copy or a fallback field.

    The email's call to action is a fixed button label from the approved copy.
    """
    if draft.model == APPROVED_COPY_MODEL:
        return {}
    skipped = set(draft.fallback_fields) | {"call_to_action"}
    return {name: value for name, value in draft.fields.items() if name not in skipped}


def cost_metrics(draft: Draft) -> Metrics:
    return {
        "latency_ms": draft.latency_ms,
        "prompt_tokens": draft.prompt_tokens,
        "completion_tokens": draft.completion_tokens,
        "attempts": draft.attempts,
        "approved_copy": draft.model == APPROVED_COPY_MODEL,
        "fallback_fields": len(draft.fallback_fields),
        "model_text_kept": draft.model != APPROVED_COPY_MODEL and not draft.fallback_fields,
    }


def length_metrics(draft: Draft) -> Metrics:
    metrics: Metrics = {"words": len(draft.text.split()), "chars": len(draft.text)}
    if draft.channel == Channel.SMS:
        count = count_sms(draft.text)
        metrics["sms_segments"] = count.segments
        metrics["sms_encoding"] = count.encoding
    return metrics


def readability_metrics(draft: Draft) -> Metrics:
    """Score the body field with textstat 0.7.4: Flesch reading ease and Flesch-Kincaid grade."""
    body = draft.fields.get("body", "").strip()
    if not body:
        return {"reading_ease": None, "reading_grade": None}
    return {
        "reading_ease": round(float(textstat.flesch_reading_ease(body)), 1),
        "reading_grade": round(float(textstat.flesch_kincaid_grade(body)), 1),
    }


def grounding_metrics(
    case: GoldenCase,
    draft: Draft,
    brand: BrandProfile,
    catalogue: frozenset[str],
) -> Metrics:
    """Measure how well the draft sticks to the context.

    `facts_covered` is the share of the case's expected facts found in the draft.
    `unknown_entities` counts names, numbers and catalogue products in the model-written
    fields that the context does not contain, using the guardrails' own grounding checks.
    `attempt_grounding_findings` counts such findings over every sampled attempt, when the
    pipeline kept an attempt log.
    """
    facts = case.expect.facts
    covered = sum(contains(draft, rule) for rule in facts)
    strangers = _unknown_entities(case, draft, brand, catalogue)
    metrics: Metrics = {
        "facts_covered": round(covered / len(facts), 3) if facts else None,
        "unknown_entities": len(strangers),
        "unknown_entity_spans": ", ".join(strangers) or None,
    }
    if draft.attempt_log:
        metrics["attempt_grounding_findings"] = sum(
            finding.check_id in GROUNDING_CHECK_IDS
            for attempt in draft.attempt_log
            for finding in attempt.findings
        )
    return metrics


def _unknown_entities(
    case: GoldenCase, draft: Draft, brand: BrandProfile, catalogue: frozenset[str]
) -> list[str]:
    fields = model_written_fields(draft)
    if not fields:
        return []
    inp = CheckInput(
        context=case.context,
        brand=brand,
        kind=case.kind,
        channel=case.channel,
        as_of=case.as_of,
        fields=fields,
        rendered=RenderedMessage(
            text="\n".join(fields.values()), subject=fields.get("subject"), html=None
        ),
        allowed_offer=_allowed_offer(case.kind, case.context, brand),
        catalogue=catalogue,
    )
    findings = check_names(inp) + check_numbers(inp) + check_products(inp)
    return list(dict.fromkeys(finding.span or finding.check_id for finding in findings))


def _allowed_offer(kind: MessageKind, context: CustomerContext, brand: BrandProfile) -> str | None:
    return allowed_offer_for(context, brand) if kind == MessageKind.WINBACK else None
