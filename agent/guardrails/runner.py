"""The registry of guardrail checks and the function that runs them all."""

from __future__ import annotations

from agent.domain import Finding
from agent.guardrails import (
    compliance,
    content,
    delivery,
    grounding,
    offers,
    policy,
    privacy,
    safety,
    sms,
    voice,
)
from agent.guardrails.base import Check, CheckInput

# Every check of a rendered message, in the order its findings are reported. Each check
# returns [] for the kinds and channels it does not apply to. Eligibility
# (compliance.check_eligibility) and the send time (schedule.next_send_time) are decided
# before drafting, and privacy.find_instructions reads customer-written text, so none of
# them is listed here.
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
    policy.check_policy_promise,
    delivery.check_delivery_status,
    privacy.check_email,
    privacy.check_phone,
    privacy.check_address,
    privacy.check_injection_echo,
    safety.check_profanity,
    safety.check_medical_claim,
    safety.check_legal_claim,
    voice.check_banned_phrases,
    voice.check_length,
    voice.check_repetition,
    voice.check_exclamation,
    voice.check_capitals,
    voice.check_reading_level,
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
