"""Each kind's model-written body must do the job the kind exists for."""

from __future__ import annotations

import re

from agent.domain import Finding, MessageKind, Severity
from agent.guardrails.base import CheckInput

# Words of which the body must contain at least one, per kind. A review request without a
# request for a review, or a tip email that never mentions the tip, fails its purpose.
REQUIRED_WORDS: dict[MessageKind, tuple[str, ...]] = {
    MessageKind.ORDER_FOLLOWUP: ("thank",),
    MessageKind.USAGE_TIP: ("tip",),
    MessageKind.REVIEW_REQUEST: ("review", "what you think", "your thoughts", "honest words"),
    MessageKind.SERVICE_RECOVERY: ("sorry", "apologis", "apologiz"),
    # The referral invite and its request for a photo or video of a reviewed product.
    MessageKind.REFERRAL_INVITE: ("share", "friend", "link", "photo", "video"),
    MessageKind.LOYALTY_UPDATE: ("point", "member", "reward", "tier"),
}

# Wording that sells or requests praise, which a service-recovery apology must not contain,
# because an unhappy customer who is shown new products or requested a review feels ignored.
RECOVERY_PITCH = re.compile(
    r"\b(?:reviews?|rate\s+us|ratings?|stars?|recommend\w*|refer(?:ral)?s?|browse|"
    r"new\s+(?:arrivals|collection|range|season)|collections?|shop\s+now|treat\s+yourself)\b",
    re.IGNORECASE,
)


def check_purpose(inp: CheckInput) -> list[Finding]:
    """Block a body that lacks every word its kind requires, such as "review", and a
    service-recovery field that sells or requests a review."""
    findings = _pitch_findings(inp) if inp.kind is MessageKind.SERVICE_RECOVERY else []
    return _required_findings(inp) + findings


def _pitch_findings(inp: CheckInput) -> list[Finding]:
    findings = []
    for field, value in inp.fields.items():
        if field == "call_to_action":
            continue
        match = RECOVERY_PITCH.search(value)
        if match:
            findings.append(
                Finding(
                    check_id="content.purpose",
                    severity=Severity.BLOCK,
                    message=f"The {field.replace('_', ' ')} of this service_recovery contains "
                    f"{match.group()!r}, which sells or asks for a review in an apology.",
                    field=field,
                    span=match.group(),
                    suggestion="Apologise and leave the remedy to the template; ask for "
                    "nothing and promote nothing.",
                )
            )
    return findings


def _required_findings(inp: CheckInput) -> list[Finding]:
    required = REQUIRED_WORDS.get(inp.kind)
    body = inp.fields.get("body")
    if not required or body is None:
        return []
    if any(word in body.lower() for word in required):
        return []
    expected = " or ".join(repr(word) for word in required)
    return [
        Finding(
            check_id="content.purpose",
            severity=Severity.BLOCK,
            message=f"The body of this {inp.kind} contains none of {expected}.",
            field="body",
            suggestion=f"Make the body do its job: mention {expected}.",
        )
    ]
