"""Service-recovery drafts: an apology naming the problem, the policy's remedy, no pitch."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from agent.config import Settings
from agent.domain import (
    Channel,
    Consent,
    CustomerContext,
    DraftRequest,
    DraftStatus,
    MessageKind,
    Order,
    OrderLine,
    OrderStatus,
    ProductReturn,
    RecoveryTrigger,
    Review,
    Ticket,
    TicketStatus,
)
from agent.drafting.pipeline import Drafter, Ineligible
from agent.drafting.service_recovery import recovery_situation
from agent.drafting.services import Services
from agent.guardrails.sms import count_sms
from tests.drafting.support import (
    EXTRACT_AS_OF,
    HH,
    LL,
    LL_AS_OF,
    attempt_check_ids,
    brand,
    check_ids,
    classified,
    ll_context,
    scripted,
)

AS_OF = datetime(2011, 12, 9, 12, 0, tzinfo=UTC)
PLACED = datetime(2011, 11, 25, 10, 0, tzinfo=UTC)
TICKET_TEXT = "It came in pieces and the box was soaked through."


def hh_order(**overrides) -> Order:
    values = {
        "order_id": "581801",
        "placed_at": PLACED,
        "status": OrderStatus.DELIVERED,
        "delivered_at": PLACED + timedelta(days=3),
        "delivery_estimated": True,
        "lines": [
            OrderLine(
                stock_code="22423",
                description="REGENCY CAKESTAND 3 TIER",
                quantity=1,
                unit_price=Decimal("12.75"),
            )
        ],
    }
    values.update(overrides)
    return Order(**values)


def hh_context(**overrides) -> CustomerContext:
    values = {"customer_id": "hh-sam", "first_name": "Sam", "country": "United Kingdom"}
    values["orders"] = [hh_order()]
    values.update(overrides)
    return CustomerContext(**values)


def complaint(category: str, **overrides) -> Ticket:
    values = {
        "ticket_id": "T-7",
        "category": category,
        "subject": "Problem with my order",
        "text": TICKET_TEXT,
        "opened_at": AS_OF - timedelta(days=2),
    }
    values.update(overrides)
    return Ticket(**values)


# One context per trigger, each with no other trigger.
TRIGGER_CONTEXTS = {
    RecoveryTrigger.LATE_DELIVERY: lambda: hh_context(
        orders=[hh_order(delivered_at=PLACED + timedelta(days=11), delivery_estimated=False)]
    ),
    RecoveryTrigger.NOT_DELIVERED: lambda: hh_context(
        orders=[hh_order(status=OrderStatus.SHIPPED, delivered_at=None)]
    ),
    RecoveryTrigger.DAMAGED: lambda: hh_context(tickets=[complaint("damaged")]),
    RecoveryTrigger.WRONG_ITEM: lambda: hh_context(tickets=[complaint("wrong_item")]),
    RecoveryTrigger.QUALITY: lambda: hh_context(
        tickets=[
            complaint(
                "quality",
                status=TicketStatus.CLOSED,
                opened_at=AS_OF - timedelta(days=9),
                closed_at=AS_OF - timedelta(days=6),
            )
        ]
    ),
    RecoveryTrigger.DELIVERY_PROBLEM: lambda: hh_context(tickets=[complaint("delivery")]),
    RecoveryTrigger.RETURN: lambda: hh_context(
        returns=[ProductReturn(order_id="581801", created_at=AS_OF - timedelta(days=3))]
    ),
    RecoveryTrigger.LOW_RATING: lambda: hh_context(
        reviews=[Review(stock_code="22423", rating=2, created_at=AS_OF - timedelta(days=4))]
    ),
}


def good_output(problem: str, channel: Channel = Channel.EMAIL) -> str:
    body = f"We are sorry that {problem}, and we know how disappointing that is."
    if channel is Channel.SMS:
        return json.dumps({"body": body})
    return json.dumps({"subject": "We are sorry about your order", "body": body})


def request(
    context: CustomerContext, channel: Channel = Channel.EMAIL, brand_id: str = HH
) -> DraftRequest:
    return DraftRequest(
        context=context,
        kind=MessageKind.SERVICE_RECOVERY,
        channel=channel,
        brand=brand_id,
        as_of=AS_OF if brand_id == HH else LL_AS_OF,
    )


@pytest.mark.parametrize("trigger", list(TRIGGER_CONTEXTS))
def test_each_trigger_drafts_its_remedy(prepared_settings: Settings, trigger) -> None:
    remedy = brand(HH).recovery_remedies[trigger]
    built = scripted(prepared_settings, [good_output(remedy.problem)])
    draft = Drafter(built).draft(request(TRIGGER_CONTEXTS[trigger]()), save=False)
    assert draft.status == DraftStatus.READY, draft.findings
    assert draft.fields["body"].startswith(f"We are sorry that {remedy.problem},")
    assert f"What we will do: {remedy.text}" in draft.text
    assert "What happened: " in draft.text
    assert "Unsubscribe" not in draft.text
    assert draft.fields["call_to_action"] == "Contact us"


@pytest.mark.parametrize(
    ("trigger", "happened"),
    [
        (
            RecoveryTrigger.LATE_DELIVERY,
            "Order 581801 was due by 30 November 2011 and reached you on 6 December 2011.",
        ),
        (
            RecoveryTrigger.NOT_DELIVERED,
            "Order 581801 was due by 30 November 2011 and has not reached you yet.",
        ),
        (
            RecoveryTrigger.DAMAGED,
            "You contacted us on 7 December 2011 about an item that was damaged.",
        ),
        (RecoveryTrigger.RETURN, "You started a return of order 581801 on 6 December 2011."),
        (
            RecoveryTrigger.LOW_RATING,
            "Your review gave Regency Cakestand 3 Tier two stars out of five.",
        ),
    ],
)
def test_what_happened_states_context_facts(trigger, happened: str) -> None:
    situation = recovery_situation(TRIGGER_CONTEXTS[trigger](), brand(HH), AS_OF)
    assert situation.details[0].text == happened


def test_every_date_in_draft_is_grounded(prepared_settings: Settings) -> None:
    trigger = RecoveryTrigger.LATE_DELIVERY
    remedy = brand(HH).recovery_remedies[trigger]
    built = scripted(prepared_settings, [good_output(remedy.problem)])
    draft = Drafter(built).draft(request(TRIGGER_CONTEXTS[trigger]()), save=False)
    assert "30 November 2011" in draft.text
    assert "6 December 2011" in draft.text
    assert "grounding.numbers" not in check_ids(draft)


def test_invented_date_is_reasked(prepared_settings: Settings) -> None:
    trigger = RecoveryTrigger.LATE_DELIVERY
    remedy = brand(HH).recovery_remedies[trigger]
    invented = json.dumps(
        {
            "subject": "We are sorry about your order",
            "body": f"We are sorry that {remedy.problem}, and it only came on 3 December. "
            "We want to put it right.",
        }
    )
    good_body = json.loads(good_output(remedy.problem))["body"]
    built = scripted(prepared_settings, [invented, json.dumps({"body": good_body})])
    draft = Drafter(built).draft(request(TRIGGER_CONTEXTS[trigger]()), save=False)
    assert "grounding.numbers" in attempt_check_ids(draft)
    assert "3 December" not in draft.text
    assert draft.fields["body"] == good_body


@pytest.mark.parametrize(
    "pitch",
    [
        "Browse our new collection for something lovely.",
        "Please leave us a review when you have a moment.",
        "Do recommend us to your friends.",
    ],
)
def test_pitch_in_apology_is_reasked(prepared_settings: Settings, pitch: str) -> None:
    remedy = brand(HH).recovery_remedies[RecoveryTrigger.DAMAGED]
    selling = json.dumps(
        {
            "subject": "We are sorry about your order",
            "body": f"We are sorry that {remedy.problem}, and it is upsetting. {pitch}",
        }
    )
    good_body = json.loads(good_output(remedy.problem))["body"]
    built = scripted(prepared_settings, [selling, json.dumps({"body": good_body})])
    draft = Drafter(built).draft(request(TRIGGER_CONTEXTS[RecoveryTrigger.DAMAGED]()), save=False)
    assert "content.purpose" in attempt_check_ids(draft)
    assert pitch not in draft.text
    assert draft.fields["body"] == good_body


def test_persistent_review_ask_falls_back_to_approved_copy(prepared_settings: Settings) -> None:
    remedy = brand(HH).recovery_remedies[RecoveryTrigger.DAMAGED]
    body = f"We are sorry that {remedy.problem}, and we are so sorry. Please rate us five stars."
    asking = json.dumps({"subject": "We are sorry about your order", "body": body})
    built = scripted(
        prepared_settings, [asking, json.dumps({"body": body}), json.dumps({"body": body})]
    )
    draft = Drafter(built).draft(request(TRIGGER_CONTEXTS[RecoveryTrigger.DAMAGED]()), save=False)
    assert draft.fallback_fields == ["body"]
    assert (
        draft.fields["body"] == f"We are sorry that {remedy.problem}, and we want to put it right."
    )
    assert "content.purpose" not in check_ids(draft)
    assert draft.status == DraftStatus.NEEDS_REVIEW


def test_discount_in_apology_is_blocked(prepared_settings: Settings) -> None:
    remedy = brand(HH).recovery_remedies[RecoveryTrigger.DAMAGED]
    body = (
        f"We are sorry that {remedy.problem}, and here is free delivery on us. We hope that helps."
    )
    outputs = [json.dumps({"subject": "We are sorry about your order", "body": body})]
    outputs += [json.dumps({"body": body})] * 2
    draft = Drafter(scripted(prepared_settings, outputs)).draft(
        request(TRIGGER_CONTEXTS[RecoveryTrigger.DAMAGED]()), save=False
    )
    assert "offers.discount" in attempt_check_ids(draft)
    assert "free delivery" not in draft.text


def test_ticket_text_never_reaches_the_message(prepared_settings: Settings) -> None:
    remedy = brand(HH).recovery_remedies[RecoveryTrigger.DAMAGED]
    built = scripted(prepared_settings, [good_output(remedy.problem)])
    draft = Drafter(built).draft(request(TRIGGER_CONTEXTS[RecoveryTrigger.DAMAGED]()), save=False)
    assert "pieces" not in draft.text
    assert "Problem with my order" not in draft.text
    assert (
        "What went wrong: something in your order was damaged"
        in built.provider.calls[0][-1].content
    )


def test_sms_needs_no_marketing_consent(prepared_settings: Settings) -> None:
    remedy = brand(HH).recovery_remedies[RecoveryTrigger.WRONG_ITEM]
    context = TRIGGER_CONTEXTS[RecoveryTrigger.WRONG_ITEM]()
    context.consent = Consent(email_marketing=False, sms_marketing=False)
    built = scripted(prepared_settings, [good_output(remedy.problem, Channel.SMS)])
    draft = Drafter(built).draft(request(context, Channel.SMS), save=False)
    assert draft.status == DraftStatus.READY, draft.findings
    assert draft.text.startswith(
        "HearthHolly: Hi Sam, we are sorry that we sent you the wrong item,"
    )
    assert remedy.text in draft.text
    assert "Reply STOP" not in draft.text
    assert count_sms(draft.text).segments <= 2


def test_no_trigger_is_ineligible(prepared_settings: Settings) -> None:
    built = scripted(prepared_settings, [])
    with pytest.raises(Ineligible) as error:
        Drafter(built).draft(request(hh_context()), save=False)
    assert error.value.finding.check_id == "eligibility.no_trigger"
    assert "hh-sam" in error.value.finding.message
    assert built.provider.calls == []


def test_trigger_without_remedy_is_ineligible() -> None:
    profile = brand(HH)
    profile.recovery_remedies.pop(RecoveryTrigger.RETURN)
    situation = recovery_situation(TRIGGER_CONTEXTS[RecoveryTrigger.RETURN](), profile, AS_OF)
    assert situation.ineligible is not None
    assert situation.ineligible.check_id == "eligibility.no_remedy"
    assert "return" in situation.ineligible.message


def test_recovery_comes_before_referral_for_advocate(prepared_settings: Settings) -> None:
    context = classified(
        ll_context(tickets=[complaint("quality", opened_at=LL_AS_OF - timedelta(days=1))])
    )
    built = scripted(prepared_settings, [])
    referral = request(context, brand_id=LL).model_copy(
        update={"kind": MessageKind.REFERRAL_INVITE}
    )
    with pytest.raises(Ineligible) as error:
        Drafter(built).draft(referral, save=False)
    assert error.value.finding.check_id == "appropriateness.open_ticket"
    assert "service_recovery" in (error.value.finding.suggestion or "")
    remedy = brand(LL).recovery_remedies[RecoveryTrigger.QUALITY]
    built.provider.outputs = [good_output(remedy.problem)]
    draft = Drafter(built).draft(request(context, brand_id=LL), save=False)
    assert remedy.text in draft.text


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.SMS])
def test_linen_and_lark_late_delivery(prepared_settings: Settings, channel: Channel) -> None:
    orders = ll_context().orders
    orders[-1] = orders[-1].model_copy(
        update={
            "delivered_at": orders[-1].placed_at + timedelta(days=9),
            "delivery_estimated": False,
        }
    )
    remedy = brand(LL).recovery_remedies[RecoveryTrigger.LATE_DELIVERY]
    built = scripted(prepared_settings, [good_output(remedy.problem, channel)])
    draft = Drafter(built).draft(
        request(classified(ll_context(orders=orders)), channel, LL), save=False
    )
    assert draft.status == DraftStatus.READY, draft.findings
    assert remedy.text in draft.text
    assert ("The Linen & Lark studio" in draft.text) is (channel is Channel.EMAIL)


# --- the real local model -----------------------------------------------------------------


@pytest.fixture(scope="module")
def real_services(prepared_data_dir):
    return Services(Settings(data_dir=prepared_data_dir, llm_timeout_s=120))


def real_hh_context(services: Services) -> CustomerContext:
    """A real Online Retail customer of the extract, with a damaged-item ticket opened today."""
    customer = services.contexts.recent_customers(as_of=EXTRACT_AS_OF, max_days=20, limit=1)[0]
    context = services.contexts.load(customer, as_of=EXTRACT_AS_OF, brand=brand(HH))
    context.tickets = [complaint("damaged", opened_at=EXTRACT_AS_OF - timedelta(hours=3))]
    return context


@pytest.mark.slow
@pytest.mark.parametrize("brand_id", [HH, LL])
@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.SMS])
def test_real_model_drafts_recovery(
    real_services: Services, brand_id: str, channel: Channel
) -> None:
    if brand_id == HH:
        context, as_of, trigger = (
            real_hh_context(real_services),
            EXTRACT_AS_OF,
            RecoveryTrigger.DAMAGED,
        )
    else:
        orders = ll_context().orders
        orders[-1] = orders[-1].model_copy(
            update={"status": OrderStatus.SHIPPED, "delivered_at": None}
        )
        context, as_of = classified(ll_context(orders=orders)), LL_AS_OF
        trigger = RecoveryTrigger.NOT_DELIVERED
    remedy = brand(brand_id).recovery_remedies[trigger]
    draft = Drafter(real_services).draft(
        DraftRequest(
            context=context,
            kind=MessageKind.SERVICE_RECOVERY,
            channel=channel,
            brand=brand_id,
            as_of=as_of,
        )
    )
    print(f"\n--- {brand_id} {channel} ({draft.status}, {draft.attempts} calls)")
    print(f"{draft.subject}\n{draft.text}")
    assert draft.model.startswith("SmolLM2")
    assert draft.status != DraftStatus.BLOCKED, draft.findings
    assert draft.fields["body"].startswith(f"We are sorry that {remedy.problem},")
    assert remedy.text in draft.text
    assert not {"content.purpose", "grounding.numbers", "offers.discount"} & check_ids(draft)
    assert real_services.drafts.get(draft.id).text == draft.text
