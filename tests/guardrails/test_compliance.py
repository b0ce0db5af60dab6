from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.domain import Channel, Consent, MessageKind, OrderStatus, Review, Severity
from agent.guardrails.base import RenderedMessage
from agent.guardrails.compliance import (
    check_eligibility,
    check_postal_address,
    check_sms_brand,
    check_sms_opt_out,
    check_unsubscribe,
    unsubscribe_prefix,
)
from tests.guardrails.factories import (
    AS_OF,
    make_brand,
    make_context,
    make_fields,
    make_input,
    make_order,
    make_sms_input,
    render_email,
)

MARKETING_KINDS = [
    MessageKind.REVIEW_REQUEST,
    MessageKind.WINBACK,
    MessageKind.LOYALTY_UPDATE,
    MessageKind.REFERRAL_INVITE,
]
TRANSACTIONAL_KINDS = [
    MessageKind.ORDER_FOLLOWUP,
    MessageKind.USAGE_TIP,
    MessageKind.SERVICE_RECOVERY,
]


def _eligibility(
    kind: MessageKind = MessageKind.WINBACK,
    channel: Channel = Channel.EMAIL,
    soft_opt_in: bool = False,
    **context_overrides,
):
    context = make_context(**context_overrides)
    brand = make_brand(soft_opt_in_email=soft_opt_in)
    return check_eligibility(context, brand, kind, channel)


# --- consent ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", MARKETING_KINDS)
def test_eligibility_allows_marketing_email_with_consent(kind: MessageKind) -> None:
    assert _eligibility(kind, consent=Consent(email_marketing=True)) is None


@pytest.mark.parametrize("kind", MARKETING_KINDS)
def test_eligibility_rejects_marketing_email_opt_out(kind: MessageKind) -> None:
    finding = _eligibility(kind, soft_opt_in=True, consent=Consent(email_marketing=False))
    assert finding is not None
    assert finding.check_id == "compliance.consent"
    assert finding.severity is Severity.BLOCK
    assert kind.value in finding.message
    assert "email" in finding.message
    assert "opted out" in finding.message


def test_eligibility_soft_opt_in_allows_existing_customer() -> None:
    assert _eligibility(soft_opt_in=True, consent=Consent(email_marketing=None)) is None


def test_eligibility_rejects_unknown_consent_without_soft_opt_in() -> None:
    finding = _eligibility(consent=Consent(email_marketing=None))
    assert finding is not None
    assert "soft_opt_in_email" in finding.suggestion


def test_eligibility_soft_opt_in_needs_live_order() -> None:
    cancelled = make_order(status=OrderStatus.CANCELLED)
    finding = _eligibility(
        soft_opt_in=True, consent=Consent(email_marketing=None), orders=[cancelled]
    )
    assert finding is not None
    assert "not cancelled" in finding.message


def test_eligibility_soft_opt_in_needs_any_order() -> None:
    finding = _eligibility(soft_opt_in=True, consent=Consent(email_marketing=None), orders=[])
    assert finding is not None


def test_eligibility_soft_opt_in_never_covers_sms() -> None:
    consent = Consent(email_marketing=True, sms_marketing=None)
    finding = _eligibility(channel=Channel.SMS, soft_opt_in=True, consent=consent)
    assert finding is not None
    assert "SMS" in finding.message


def test_eligibility_rejects_sms_opt_out() -> None:
    consent = Consent(email_marketing=True, sms_marketing=False)
    finding = _eligibility(channel=Channel.SMS, consent=consent)
    assert finding is not None
    assert "opted out of SMS marketing" in finding.message


def test_eligibility_allows_sms_with_consent() -> None:
    consent = Consent(email_marketing=False, sms_marketing=True)
    assert _eligibility(channel=Channel.SMS, consent=consent) is None


@pytest.mark.parametrize("kind", TRANSACTIONAL_KINDS)
@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.SMS])
def test_eligibility_transactional_needs_no_consent(kind: MessageKind, channel: Channel) -> None:
    consent = Consent(email_marketing=False, sms_marketing=False)
    assert _eligibility(kind, channel, consent=consent, open_tickets=2) is None


# --- review suppression (details in test_appropriateness.py) ---------------------------------


def test_eligibility_review_waits_for_open_ticket() -> None:
    finding = _eligibility(MessageKind.REVIEW_REQUEST, open_tickets=1)
    assert finding is not None
    assert finding.check_id == "appropriateness.open_ticket"
    assert "service_recovery" in finding.suggestion


def test_eligibility_open_ticket_allows_winback() -> None:
    assert _eligibility(MessageKind.WINBACK, open_tickets=1) is None


@pytest.mark.parametrize("rating", [1, 2])
def test_eligibility_review_skips_negative_reviewer(rating: int) -> None:
    finding = _eligibility(MessageKind.REVIEW_REQUEST, reviews=[Review(rating=rating)])
    assert finding is not None
    assert finding.check_id == "appropriateness.negative_sentiment"


def test_eligibility_review_allows_three_stars() -> None:
    assert _eligibility(MessageKind.REVIEW_REQUEST, reviews=[Review(rating=3)]) is None


def test_eligibility_passes_as_of_to_recent_window() -> None:
    context = make_context(reviews=[Review(rating=1, created_at=datetime(2010, 1, 4, tzinfo=UTC))])
    brand = make_brand()
    kind, channel = MessageKind.REVIEW_REQUEST, Channel.EMAIL
    assert check_eligibility(context, brand, kind, channel, as_of=AS_OF) is None
    assert check_eligibility(context, brand, kind, channel) is not None


def test_eligibility_consent_reported_before_ticket() -> None:
    finding = _eligibility(
        MessageKind.REVIEW_REQUEST, consent=Consent(email_marketing=False), open_tickets=1
    )
    assert finding is not None
    assert finding.check_id == "compliance.consent"


# --- unsubscribe and postal address ----------------------------------------------------------


def _email(kind: MessageKind = MessageKind.WINBACK, footer: bool = True, **rendered_overrides):
    context, brand, fields = make_context(), make_brand(), make_fields()
    rendered = render_email(context, brand, fields, footer=footer)
    if rendered_overrides:
        rendered = RenderedMessage(**(vars(rendered) | rendered_overrides))
    return make_input(context=context, brand=brand, fields=fields, kind=kind, rendered=rendered)


def test_unsubscribe_prefix_cuts_token() -> None:
    prefix = unsubscribe_prefix(make_brand())
    assert prefix == "https://hearthandtwine.example/unsubscribe/"


def test_unsubscribe_passes_with_footer() -> None:
    assert check_unsubscribe(_email()) == []


def test_unsubscribe_blocks_missing_footer() -> None:
    findings = check_unsubscribe(_email(footer=False))
    assert [f.check_id for f in findings] == ["compliance.unsubscribe"] * 2
    assert all(f.severity is Severity.BLOCK for f in findings)
    assert "text part" in findings[0].message
    assert "HTML part" in findings[1].message


def test_unsubscribe_blocks_missing_html_part() -> None:
    findings = check_unsubscribe(_email(html=None))
    assert [f.message for f in findings] == [
        "The HTML part of this marketing email lacks the unsubscribe link."
    ]


def test_unsubscribe_reads_escaped_html_link() -> None:
    brand = make_brand(unsubscribe_url="https://x.example/u?list=a&id={token}")
    rendered = RenderedMessage(
        text="Hello,\nhttps://x.example/u?list=a&id=tok " + brand.postal_address,
        subject="Hi",
        html='<a href="https://x.example/u?list=a&amp;id=tok">Unsubscribe</a>',
    )
    inp = make_input(brand=brand, kind=MessageKind.WINBACK, rendered=rendered)
    assert check_unsubscribe(inp) == []


def test_unsubscribe_skips_transactional() -> None:
    assert check_unsubscribe(_email(MessageKind.ORDER_FOLLOWUP, footer=False)) == []


def test_unsubscribe_skips_sms() -> None:
    assert check_unsubscribe(make_sms_input("Hi", kind=MessageKind.WINBACK)) == []


def test_postal_address_passes_with_footer() -> None:
    assert check_postal_address(_email()) == []


def test_postal_address_accepts_line_breaks_and_case() -> None:
    brand = make_brand()
    text = "Hello,\nhearth & twine ltd\n12 market street\nyork\nyo1 8ab"
    rendered = RenderedMessage(text=text, subject="Hi", html=f"<p>{text}</p>")
    inp = make_input(brand=brand, kind=MessageKind.WINBACK, rendered=rendered)
    assert check_postal_address(inp) == []


def test_postal_address_blocks_missing_footer() -> None:
    findings = check_postal_address(_email(footer=False))
    assert [f.check_id for f in findings] == ["compliance.postal_address"] * 2


def test_postal_address_blocks_partial_address() -> None:
    text = "Hello,\nHearth & Twine Ltd, 12 Market Street, York"
    findings = check_postal_address(_email(text=text))
    assert [f.message for f in findings] == [
        "The text part of this marketing email lacks the brand's postal address."
    ]


def test_postal_address_ignores_html_attributes() -> None:
    html = f'<p title="{make_brand().postal_address}">Thanks</p>'
    findings = check_postal_address(_email(html=html))
    assert len(findings) == 1
    assert "HTML part" in findings[0].message


# --- SMS footer ------------------------------------------------------------------------------


def test_sms_opt_out_passes() -> None:
    inp = make_sms_input(
        "HearthTwine: we miss you. Reply STOP to opt out", kind=MessageKind.WINBACK
    )
    assert check_sms_opt_out(inp) == []


def test_sms_opt_out_blocks_missing_line() -> None:
    findings = check_sms_opt_out(
        make_sms_input("HearthTwine: we miss you.", kind=MessageKind.WINBACK)
    )
    assert [f.check_id for f in findings] == ["compliance.sms_opt_out"]
    assert findings[0].severity is Severity.BLOCK


def test_sms_opt_out_blocks_near_miss() -> None:
    inp = make_sms_input("HearthTwine: we miss you. Text STOP to opt out", kind=MessageKind.WINBACK)
    assert len(check_sms_opt_out(inp)) == 1


def test_sms_opt_out_skips_transactional() -> None:
    inp = make_sms_input("Your order has shipped.", kind=MessageKind.ORDER_FOLLOWUP)
    assert check_sms_opt_out(inp) == []


def test_sms_brand_passes_in_any_case() -> None:
    inp = make_sms_input(
        "HEARTHTWINE: we miss you. Reply STOP to opt out", kind=MessageKind.WINBACK
    )
    assert check_sms_brand(inp) == []


def test_sms_brand_blocks_missing_sender() -> None:
    inp = make_sms_input("We miss you. Reply STOP to opt out", kind=MessageKind.WINBACK)
    findings = check_sms_brand(inp)
    assert [f.check_id for f in findings] == ["compliance.sms_brand"]
    assert "'HearthTwine'" in findings[0].message


def test_sms_brand_needs_whole_word() -> None:
    inp = make_sms_input("HearthTwineShop: hi. Reply STOP to opt out", kind=MessageKind.WINBACK)
    assert len(check_sms_brand(inp)) == 1


def test_sms_brand_skips_email() -> None:
    assert check_sms_brand(_email(footer=False)) == []
