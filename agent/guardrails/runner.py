"""The registry of guardrail checks and the function that runs them all."""

from __future__ import annotations

from agent.domain import Finding
from agent.guardrails import compliance, content, delivery, grounding, offers, sms, voice
from agent.guardrails.base import Check, CheckInput

# Every check, in the order its findings are reported. Each check returns [] for the kinds
# and channels it does not apply to.
ALL_CHECKS: list[Check] = [
    compliance.check_unsubscribe,
    compliance.check_postal_address,
    compliance.check_sms_opt_out,
    compliance.check_sms_brand,
    offers.check_discount,
    offers.check_code,
    offers.check_review_reward,
    grounding.check_greeting,
    grounding.check_products,
    grounding.check_numbers,
    grounding.check_names,
    delivery.check_delivery_status,
    voice.check_banned_phrases,
    voice.check_length,
    voice.check_repetition,
    content.check_purpose,
    sms.check_segments,
    sms.check_encoding,
]


def run_checks(inp: CheckInput, checks: list[Check] | None = None) -> list[Finding]:
    """Run every check on one rendered message and return all findings.

    Findings come in the order of `checks` (ALL_CHECKS by default), and within one check in the
    order it reports them, so the same input always gives the same list.
    """
    findings: list[Finding] = []
    for check in ALL_CHECKS if checks is None else checks:
        findings.extend(check(inp))
    return findings
