"""Each kind's model-written body must do the job the kind exists for."""

from __future__ import annotations

from agent.domain import Finding, MessageKind, Severity
from agent.guardrails.base import CheckInput

# Words of which the body must contain at least one, per kind. A review request without a
# request for a review, or a tip email that never mentions the tip, fails its purpose.
REQUIRED_WORDS: dict[MessageKind, tuple[str, ...]] = {
    MessageKind.ORDER_FOLLOWUP: ("thank",),
    MessageKind.USAGE_TIP: ("tip",),
    MessageKind.REVIEW_REQUEST: ("review", "what you think", "your thoughts", "honest words"),
}


def check_purpose(inp: CheckInput) -> list[Finding]:
    """Block a body that lacks every word its kind requires, such as "review"."""
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
