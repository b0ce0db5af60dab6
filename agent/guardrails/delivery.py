"""Delivery claims in model-written copy must match the order's delivery status."""

from __future__ import annotations

import re

from agent.domain import Finding, Severity
from agent.guardrails.base import CheckInput

# Phrases that claim the parcel has reached the customer, or that it has not yet.
ARRIVED = re.compile(
    r"\b(has|have|had)\s+(arrived|landed)\b|\barrived\b|\bdelivered\b|\breceived\b", re.IGNORECASE
)
# Arrival stated as fact, which an estimated delivery date cannot support.
FIRM_ARRIVAL = re.compile(
    r"\b(has|have)\s+(arrived|been\s+delivered)\b|\b(is|was)\s+delivered\b", re.IGNORECASE
)
IN_TRANSIT = re.compile(
    r"\bon its way\b|\bon the way\b|\bhas left us\b|\bdispatched\b|\bwill arrive\b|"
    r"\bcoming to you\b|\bin transit\b|\barriving\b",
    re.IGNORECASE,
)


def check_delivery_status(inp: CheckInput) -> list[Finding]:
    """Block copy claiming the last order arrived while it is in transit, or the reverse."""
    order = inp.context.last_order()
    if order is None:
        return []
    delivered = order.delivered_at is not None and order.delivered_at <= inp.as_of
    if delivered and order.delivery_estimated:
        return _contradictions(
            inp, FIRM_ARRIVAL, "should have arrived, though its date is only an estimate"
        ) + _contradictions(inp, IN_TRANSIT, "should have arrived by now")
    if delivered:
        return _contradictions(inp, IN_TRANSIT, "has been delivered")
    return _contradictions(inp, ARRIVED, "is still on its way")


def _contradictions(inp: CheckInput, pattern: re.Pattern[str], status: str) -> list[Finding]:
    findings = []
    for name, value in inp.fields.items():
        match = pattern.search(value)
        if match:
            findings.append(
                Finding(
                    check_id="grounding.delivery_status",
                    severity=Severity.BLOCK,
                    message=f"The order {status}, but the {name.replace('_', ' ')} contains "
                    f"{match.group(0)!r}.",
                    field=name,
                    span=match.group(0),
                    suggestion=f"Describe the order as it is: it {status}.",
                )
            )
    return findings
