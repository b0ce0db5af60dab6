"""What a loyalty update, referral invite or service recovery is about, decided before drafting.

Each of these kinds needs facts beyond the order: a trigger and its remedy, an advocate score,
or a loyalty account. `situation_for` gathers them into a `Situation`, which gives the
pipeline the slot spec to use, the approved-copy variant, the prompt's facts and the lines
the template states. A request that cannot be drafted gets a Situation with `ineligible`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from agent.domain import BrandProfile, CustomerContext, Finding, MessageKind, Severity
from agent.drafting.kinds import KindSpec
from agent.loyalty.models import LoyaltyProgram
from agent.loyalty.program import LoyaltyProgramError, load_program
from agent.signals.store import CustomerSignals, SignalsNotComputed, signals_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetailLine:
    """One line the email template states under the body, such as "What happened: ..."."""

    text: str
    label: str | None = None


@dataclass(frozen=True)
class Situation:
    """Kind-specific facts for one draft. The default is for kinds that need none."""

    # The slot spec to draft with, when it differs from the kind's own.
    spec: KindSpec | None = None
    # The approved-copy variant, such as "ugc" for the key `referral_invite/ugc`.
    copy_variant: str | None = None
    # Values of the approved copy's placeholders, such as {"problem": "..."}.
    copy_values: dict[str, str] = field(default_factory=dict)
    # Facts the prompt states, without numbers.
    prompt_facts: dict[str, str] = field(default_factory=dict)
    # Lines the email template states, with every number from the context.
    details: tuple[DetailLine, ...] = ()
    # The fact an SMS states after the body.
    sms_facts: str = ""
    # Where the call to action links, when not the kind's default page.
    cta_url: str | None = None
    # Warnings the draft carries, such as loyalty.missing.
    findings: tuple[Finding, ...] = ()
    # Why the request may not be drafted; None when it may.
    ineligible: Finding | None = None


def ineligible(check_id: str, message: str, suggestion: str | None = None) -> Situation:
    finding = Finding(
        check_id=check_id, severity=Severity.BLOCK, message=message, suggestion=suggestion
    )
    return Situation(ineligible=finding)


def warning(check_id: str, message: str, suggestion: str | None = None) -> Finding:
    return Finding(
        check_id=check_id, severity=Severity.WARN, message=message, suggestion=suggestion
    )


class Sources:
    """Reader of what a context lacks: stored signals and loyalty programmes.

    `services` is an `agent.drafting.services.Services`; it is only read, never changed.
    """

    def __init__(self, services) -> None:  # noqa: ANN001 - avoids an import cycle
        self.services = services

    def signals(self, customer_id: str, brand: str, as_of: datetime) -> CustomerSignals | None:
        """Return the customer's stored signals, or None when none were computed by `as_of`.

        Signals computed as of a later moment are ignored, because they may count events
        that had not happened at `as_of`.
        """
        try:
            stored = signals_for(self.services.engine, customer_id, brand=brand)
        except SignalsNotComputed:
            return None
        return stored if stored.as_of <= as_of else None

    def loyalty_program(self, brand: str) -> LoyaltyProgram | None:
        try:
            return load_program(self.services.settings.kb_dir, brand).program
        except LoyaltyProgramError as error:
            log.warning("no loyalty programme for brand %s: %s", brand, error)
            return None


def situation_for(
    kind: MessageKind,
    context: CustomerContext,
    brand: BrandProfile,
    as_of: datetime,
    sources: Sources,
) -> Situation:
    """Gather the kind-specific facts of one request; other kinds get an empty Situation."""
    # Imported here because each module imports this one for Situation.
    from agent.drafting.loyalty_update import loyalty_situation
    from agent.drafting.referral_invite import referral_situation
    from agent.drafting.service_recovery import recovery_situation

    if kind is MessageKind.SERVICE_RECOVERY:
        return recovery_situation(context, brand, as_of)
    if kind is MessageKind.REFERRAL_INVITE:
        signals = sources.signals(context.customer_id, brand.brand_id, as_of)
        return referral_situation(context, brand, as_of, signals)
    if kind is MessageKind.LOYALTY_UPDATE:
        signals = sources.signals(context.customer_id, brand.brand_id, as_of)
        program = sources.loyalty_program(brand.brand_id)
        return loyalty_situation(context, brand, as_of, signals, program)
    return Situation()
