"""The demo brands' policy fields agree with their own documents and approved copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.domain import BrandProfile, Channel, MessageKind
from agent.guardrails import policy, privacy, safety, voice
from agent.knowledge.brand import load_brand
from tests.guardrails.factories import make_context, make_input

KB_DIR = Path(__file__).resolve().parents[2] / "kb"
BRANDS = ["hearth-and-holly", "linen-and-lark"]
COPY_CHECKS = [
    policy.check_policy_promise,
    privacy.check_email,
    privacy.check_phone,
    privacy.check_address,
    safety.check_profanity,
    safety.check_medical_claim,
    safety.check_legal_claim,
    voice.check_exclamation,
    voice.check_capitals,
    voice.check_reading_level,
]


@pytest.fixture(params=BRANDS)
def brand(request: pytest.FixtureRequest) -> BrandProfile:
    return load_brand(KB_DIR, request.param)


def test_delivery_policy_text_keeps_its_promises(brand: BrandProfile) -> None:
    document = (KB_DIR / brand.brand_id / "delivery-returns.md").read_text(encoding="utf-8")
    body = document.split("---", 2)[2]
    inp = make_input(brand=brand, context=make_context(), fields={"body": body})
    broken = [p.text for p in policy.find_promises(inp, body) if not p.kept]
    assert broken == []


def test_approved_copy_passes_new_checks(brand: BrandProfile) -> None:
    for key, copy in brand.approved_copy.items():
        kind = MessageKind(key.split("/")[0])
        fields = {
            name: value.replace("{offer}", "a thank-you offer") for name, value in copy.items()
        }
        inp = make_input(brand=brand, kind=kind, channel=Channel.EMAIL, fields=fields)
        findings = [finding for check in COPY_CHECKS for finding in check(inp)]
        assert findings == [], key


def test_brand_schedule_fields(brand: BrandProfile) -> None:
    assert brand.quiet_hours is not None
    assert f"{brand.quiet_hours.start:%H:%M}-{brand.quiet_hours.end:%H:%M}" == "21:00-08:00"
    windows = {cap.channel: cap.window_hours for cap in brand.frequency_caps}
    assert windows == {Channel.EMAIL: 16, Channel.SMS: 24}
    assert brand.max_exclamations[Channel.SMS] == 0
    assert brand.field_max_exclamations == {"subject": 0}
