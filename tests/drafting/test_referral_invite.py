"""Referral invites: advocates only, the platform's link placeholder, no reward for praise."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from agent.config import Settings
from agent.domain import (
    Channel,
    Consent,
    CustomerContext,
    DraftRequest,
    DraftStatus,
    MessageKind,
    Review,
    Ticket,
)
from agent.drafting.pipeline import Drafter, Ineligible
from agent.drafting.referral_invite import referral_situation
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
    happy_reviews,
    ll_context,
    ll_orders,
    scripted,
    stored_signals,
)

LINK = "{{referral_link}}"
INVITE = json.dumps(
    {
        "subject": "Know someone who would like our clothes?",
        "body": "Thank you for coming back to us so often. If a friend would like our clothes "
        "too, your personal link makes it easy to share.",
    }
)
INVITE_SMS = json.dumps(
    {"body": "Thank you for coming back to us, and your link makes it easy to share us."}
)
UGC = json.dumps(
    {
        "subject": "Could you show us your jumper?",
        "body": "Thank you for your kind review of your jumper. A photo or short video of it "
        "being worn would help other customers judge the fit.",
    }
)


def invite_context(**overrides) -> CustomerContext:
    """An advocate whose latest review has three stars, so the referral link variant fits."""
    return classified(ll_context(reviews=happy_reviews(latest_rating=3), **overrides))


def ugc_context(**overrides) -> CustomerContext:
    """An advocate whose latest review has five stars, so the photo request variant fits."""
    return classified(ll_context(reviews=happy_reviews(latest_rating=5), **overrides))


def request(context: CustomerContext, channel: Channel = Channel.EMAIL, brand_id: str = LL):
    as_of = LL_AS_OF if brand_id == LL else EXTRACT_AS_OF
    return DraftRequest(
        context=context,
        kind=MessageKind.REFERRAL_INVITE,
        channel=channel,
        brand=brand_id,
        as_of=as_of,
    )


def test_invite_carries_referral_link(prepared_settings: Settings) -> None:
    built = scripted(prepared_settings, [INVITE])
    draft = Drafter(built).draft(request(invite_context()), save=False)
    assert draft.status == DraftStatus.READY, draft.findings
    assert f"Share your link: {LINK}" in draft.text
    assert f'href="{LINK}"' in draft.html
    assert "Unsubscribe" in draft.text
    assert not {"offers.code", "grounding.numbers", "privacy.address"} & check_ids(draft)


def test_invite_sms_ends_with_link_and_opt_out(prepared_settings: Settings) -> None:
    built = scripted(prepared_settings, [INVITE_SMS])
    draft = Drafter(built).draft(request(invite_context(), Channel.SMS), save=False)
    assert draft.status == DraftStatus.READY, draft.findings
    assert draft.text.startswith("LinenLark: Hi Maya, thank you for coming back to us")
    assert draft.text.endswith(f"Your link: {LINK} Reply STOP to opt out")
    assert count_sms(draft.text).segments <= 2


def test_positive_reviewer_gets_photo_request(prepared_settings: Settings) -> None:
    built = scripted(prepared_settings, [UGC])
    draft = Drafter(built).draft(request(ugc_context()), save=False)
    assert draft.status == DraftStatus.READY, draft.findings
    assert draft.fields["call_to_action"] == "Add a photo"
    assert "Add a photo: {{review_link}}" in draft.text
    assert LINK not in draft.text
    prompt = built.provider.calls[0][-1].content
    assert "Product: cable knit" in prompt
    assert "photo or short video" in prompt


def test_reward_for_photo_review_is_caught(prepared_settings: Settings) -> None:
    bribe = json.dumps(
        {
            "subject": "Could you show us your jumper?",
            "body": "Thank you for your kind review of your jumper. Add a photo and we will "
            "enter you into our prize draw.",
        }
    )
    good_body = json.loads(UGC)["body"]
    built = scripted(prepared_settings, [bribe, json.dumps({"body": good_body})])
    draft = Drafter(built).draft(request(ugc_context()), save=False)
    assert "offers.review_reward" in attempt_check_ids(draft)
    assert "prize draw" not in draft.text
    assert draft.fields["body"] == good_body


def test_reward_in_invite_is_caught(prepared_settings: Settings) -> None:
    paid = json.dumps(
        {
            "subject": "Know someone who would like our clothes?",
            "body": "Thank you for coming back to us. Share your link and earn a reward for every "
            "friend who gives us a five star review.",
        }
    )
    outputs = [paid] + [json.dumps({"body": json.loads(paid)["body"]})] * 2
    draft = Drafter(scripted(prepared_settings, outputs)).draft(
        request(invite_context()), save=False
    )
    assert "offers.review_reward" in attempt_check_ids(draft)
    assert draft.fallback_fields == ["body"]
    assert "reward" not in draft.text.lower()


def test_low_score_is_not_advocate(prepared_settings: Settings) -> None:
    context = classified(
        ll_context(
            orders=ll_orders(1),
            reviews=[Review(stock_code="LL-K210", rating=3, text="It is fine.")],
        )
    )
    with pytest.raises(Ineligible) as error:
        Drafter(scripted(prepared_settings, [])).draft(request(context), save=False)
    finding = error.value.finding
    assert finding.check_id == "eligibility.not_advocate"
    assert "advocate score of 32" in finding.message
    assert "from a score of 80" in finding.message


def test_repeat_orders_alone_are_not_advocacy(prepared_settings: Settings) -> None:
    with pytest.raises(Ineligible) as error:
        Drafter(scripted(prepared_settings, [])).draft(
            request(classified(ll_context())), save=False
        )
    assert error.value.finding.check_id == "eligibility.not_advocate"
    assert "advocate score of 100 with coverage 0.35" in error.value.finding.message


def test_open_complaint_blocks_invite(prepared_settings: Settings) -> None:
    ticket = Ticket(
        ticket_id="T-3",
        category="wrong_item",
        text="Wrong colour sent.",
        opened_at=LL_AS_OF - timedelta(days=1),
    )
    with pytest.raises(Ineligible) as error:
        Drafter(scripted(prepared_settings, [])).draft(
            request(ugc_context(tickets=[ticket])), save=False
        )
    assert error.value.finding.check_id == "appropriateness.open_ticket"


def test_stored_score_is_used_when_present() -> None:
    low = stored_signals("ll-maya", LL, LL_AS_OF - timedelta(days=1), advocate_score=60)
    situation = referral_situation(invite_context(), brand(LL), LL_AS_OF, low)
    assert situation.ineligible is not None
    assert "advocate score of 60" in situation.ineligible.message
    assert "stored signals as of 2011-12-08" in situation.ineligible.message


def test_brand_without_policy_sends_no_invites() -> None:
    profile = brand(LL).model_copy(update={"referral": None})
    situation = referral_situation(invite_context(), profile, LL_AS_OF, None)
    assert situation.ineligible is not None
    assert situation.ineligible.check_id == "eligibility.no_referral_policy"


def test_hearth_and_holly_invite(prepared_settings: Settings) -> None:
    built = scripted(prepared_settings, [])
    context = real_hh_advocate(built, latest_rating=3)
    built.provider.outputs = [
        json.dumps(
            {
                "subject": "Know someone who would enjoy our shop?",
                "body": "Thank you for shopping with us so often. If a friend would enjoy our "
                "shop too, your personal link makes it easy to share.",
            }
        )
    ]
    draft = Drafter(built).draft(request(context, brand_id=HH), save=False)
    assert draft.status == DraftStatus.READY, draft.findings
    assert LINK in draft.text
    assert "The Hearth & Holly team" in draft.text


# --- the real local model -----------------------------------------------------------------


def real_hh_advocate(services: Services, latest_rating: int) -> CustomerContext:
    """A real repeat customer of the extract who reviewed two of the products bought."""
    profile = brand(HH)
    for customer in services.contexts.recent_customers(as_of=EXTRACT_AS_OF, max_days=30, limit=50):
        context = services.contexts.load(customer, as_of=EXTRACT_AS_OF, brand=profile)
        if len(context.orders) >= 5:
            break
    lines = [line for order in context.orders for line in order.lines]
    context.reviews = [
        Review(
            stock_code=lines[0].stock_code,
            rating=5,
            text="Beautiful quality and it arrived quickly, thank you.",
            created_at=datetime(2011, 10, 3, tzinfo=UTC),
        ),
        Review(
            stock_code=lines[-1].stock_code,
            rating=latest_rating,
            text="Lovely, just as pictured.",
            created_at=datetime(2011, 11, 20, tzinfo=UTC),
        ),
    ]
    context.consent = Consent(email_marketing=True, sms_marketing=True)
    return context


@pytest.fixture(scope="module")
def real_services(prepared_data_dir):
    return Services(Settings(data_dir=prepared_data_dir, llm_timeout_s=120))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("brand_id", "channel", "variant"),
    [
        (HH, Channel.EMAIL, "invite"),
        (HH, Channel.SMS, "ugc"),
        (LL, Channel.EMAIL, "ugc"),
        (LL, Channel.SMS, "invite"),
    ],
)
def test_real_model_drafts_referral(
    real_services: Services, brand_id: str, channel: Channel, variant: str
) -> None:
    rating = 3 if variant == "invite" else 5
    if brand_id == HH:
        context = real_hh_advocate(real_services, latest_rating=rating)
    else:
        context = classified(ll_context(reviews=happy_reviews(latest_rating=rating)))
    draft = Drafter(real_services).draft(request(context, channel, brand_id))
    print(f"\n--- {brand_id} {channel} {variant} ({draft.status}, {draft.attempts} calls)")
    print(f"{draft.subject}\n{draft.text}")
    assert draft.model.startswith("SmolLM2")
    assert draft.status != DraftStatus.BLOCKED, draft.findings
    expected = LINK if variant == "invite" else "{{review_link}}"
    assert expected in draft.text
    assert not {"offers.review_reward", "offers.discount", "offers.code"} & check_ids(draft)
