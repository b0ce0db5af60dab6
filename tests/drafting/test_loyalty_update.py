"""Loyalty updates: every number from the points account, a reward that fits, a fair challenge."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from agent.config import Settings
from agent.context.db import init_db, make_engine
from agent.context.importer import import_online_retail
from agent.demo import EXTRACT_PATH
from agent.domain import (
    Channel,
    Consent,
    CustomerContext,
    DraftRequest,
    DraftStatus,
    MessageKind,
    Order,
    OrderLine,
)
from agent.drafting.loyalty_update import (
    choose_reward,
    loyalty_situation,
    soonest_expiry,
    tier_within_reach,
)
from agent.drafting.pipeline import Drafter, Ineligible
from agent.drafting.render import format_date
from agent.drafting.services import Services
from agent.guardrails.sms import count_sms
from agent.loyalty.derive import derive_ledger
from agent.loyalty.models import EligibleReward, LoyaltyAccount, PointsLot
from agent.loyalty.program import load_program
from agent.signals.store import RefreshInfo, replace_signals
from tests.drafting.support import (
    EXTRACT_AS_OF,
    HH,
    KB_DIR,
    LL,
    LL_AS_OF,
    account_points,
    attempt_check_ids,
    brand,
    check_ids,
    classified,
    date_figures,
    ll_account,
    ll_context,
    ll_line,
    points_figures,
    scripted,
    stored_signals,
)

EMAIL = json.dumps(
    {
        "subject": "An update on your points and rewards",
        "body": "Thank you for shopping with us, and here is where your points stand today.",
    }
)
SMS = json.dumps({"body": "Thank you for shopping with us, here is a quick update on your points."})


@pytest.fixture(scope="module")
def loyalty_settings(prepared_data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Settings over a fresh copy of the extract with a derived Hearth Club ledger.

    The knowledge index is the prepared one, read only; the database is this module's own.
    """
    data_dir = tmp_path_factory.mktemp("loyalty-drafts")
    settings = Settings(data_dir=data_dir, chroma_path=prepared_data_dir / "chroma")
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    import_online_retail(EXTRACT_PATH, engine)
    profile = brand(HH)
    program = load_program(KB_DIR, HH, families={f.family_id for f in profile.families})
    derive_ledger(engine, brand=HH, program_file=program, as_of=EXTRACT_AS_OF)
    engine.dispose()
    return settings


def request(context_or_id, channel: Channel = Channel.EMAIL, brand_id: str = HH, as_of=None):
    source = (
        {"context": context_or_id}
        if isinstance(context_or_id, CustomerContext)
        else {"customer_id": context_or_id}
    )
    return DraftRequest(
        kind=MessageKind.LOYALTY_UPDATE,
        channel=channel,
        brand=brand_id,
        as_of=as_of or (EXTRACT_AS_OF if brand_id == HH else LL_AS_OF),
        **source,
    )


def hh_member(services: Services, *, expiring: bool, within_reach: bool) -> CustomerContext:
    """Find a real customer of the extract whose derived account has the wanted news."""
    profile = brand(HH)
    for customer in services.contexts.recent_customers(
        as_of=EXTRACT_AS_OF, max_days=400, limit=400
    ):
        context = services.contexts.load(customer, as_of=EXTRACT_AS_OF, brand=profile)
        account = context.loyalty
        if account is None:
            continue
        has_expiry = soonest_expiry(account, EXTRACT_AS_OF) is not None
        if has_expiry == expiring and tier_within_reach(account) == within_reach:
            return context
    raise AssertionError("no customer of the extract has that loyalty news")


def ll_member() -> CustomerContext:
    context = classified(ll_context())
    context.loyalty = ll_account(context)
    return context


# --- real customers of Hearth & Holly with derived accounts --------------------------------


@pytest.mark.parametrize(("expiring", "within_reach"), [(True, True), (True, False), (False, True)])
def test_real_account_numbers_are_grounded(
    loyalty_settings: Settings, expiring: bool, within_reach: bool
) -> None:
    built = scripted(loyalty_settings, [EMAIL])
    context = hh_member(built, expiring=expiring, within_reach=within_reach)
    account = context.loyalty
    draft = Drafter(built).draft(request(context.customer_id), save=False)
    assert f"Your balance: {account.balance:,} points" in draft.text
    assert set(points_figures(draft)) <= account_points(account)
    assert "grounding.numbers" not in check_ids(draft)
    soonest = soonest_expiry(account, EXTRACT_AS_OF)
    if expiring:
        when = format_date(soonest.expires_at)
        assert f"Expiring soon: {soonest.points:,} points expire on {when}" in draft.text
        expected = {(d.year, d.month, d.day) for d in [soonest.expires_at.date()]}
        assert set(date_figures(draft)) == expected
    if within_reach:
        gap = f"{account.points_to_next_tier:,} points to go until {account.next_tier_name}"
        assert f"Next tier: {gap}" in draft.text


def test_derived_balance_is_flagged(loyalty_settings: Settings) -> None:
    built = scripted(loyalty_settings, [EMAIL])
    context = hh_member(built, expiring=True, within_reach=True)
    draft = Drafter(built).draft(request(context.customer_id), save=False)
    assert context.loyalty.derived is True
    assert "loyalty.derived" in check_ids(draft)
    assert draft.status == DraftStatus.NEEDS_REVIEW


def test_model_written_balance_must_match(loyalty_settings: Settings) -> None:
    built = scripted(loyalty_settings, [])
    context = hh_member(built, expiring=True, within_reach=True)
    wrong = context.loyalty.balance + 100
    guessed = json.dumps(
        {
            "subject": "An update on your points",
            "body": f"Thank you for shopping with us, you now have {wrong} points to spend.",
        }
    )
    good_body = json.loads(EMAIL)["body"]
    built.provider.outputs = [guessed, json.dumps({"body": good_body})]
    draft = Drafter(built).draft(request(context.customer_id), save=False)
    assert "grounding.numbers" in attempt_check_ids(draft)
    assert f"{wrong} points" not in draft.text
    assert draft.fields["body"] == good_body


def test_model_written_true_balance_passes(loyalty_settings: Settings) -> None:
    built = scripted(loyalty_settings, [])
    context = hh_member(built, expiring=False, within_reach=True)
    balance = context.loyalty.balance
    body = f"Thank you for shopping with us, you have {balance:,} points to spend."
    built.provider.outputs = [json.dumps({"subject": "An update on your points", "body": body})]
    draft = Drafter(built).draft(request(context.customer_id), save=False)
    assert draft.fields["body"] == body
    assert "grounding.numbers" not in attempt_check_ids(draft)


def test_sms_needs_consent(loyalty_settings: Settings) -> None:
    built = scripted(loyalty_settings, [])
    context = hh_member(built, expiring=True, within_reach=False)
    with pytest.raises(Ineligible) as error:
        Drafter(built).draft(request(context.customer_id, Channel.SMS), save=False)
    assert error.value.finding.check_id == "compliance.consent"


def test_stored_signals_size_the_challenge(loyalty_settings: Settings) -> None:
    built = scripted(loyalty_settings, [EMAIL])
    context = hh_member(built, expiring=False, within_reach=True)
    refreshed = EXTRACT_AS_OF - timedelta(days=1)
    signals = stored_signals(context.customer_id, HH, refreshed, p_alive=0.2, predicted_clv=50.0)
    info = RefreshInfo(
        refresh_id="test-refresh",
        brand=HH,
        as_of=refreshed,
        started_at=refreshed,
        finished_at=refreshed,
        customers=1,
        clv_methods={"bg_nbd+gamma_gamma": 1},
        notes=[],
    )
    replace_signals(built.engine, info, [signals])
    draft = Drafter(built).draft(request(context.customer_id), save=False)
    assert "Your challenge: Place one order this quarter, and it earns points" in draft.text
    assert "grounding.numbers" not in check_ids(draft)


# --- inline contexts ------------------------------------------------------------------------


def test_context_without_account_is_ineligible(loyalty_settings: Settings) -> None:
    context = classified(ll_context())
    built = scripted(loyalty_settings, [])
    with pytest.raises(Ineligible) as error:
        Drafter(built).draft(request(context, brand_id=LL), save=False)
    assert error.value.finding.check_id == "loyalty.missing"
    assert built.provider.calls == []


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.SMS])
def test_linen_and_lark_update(prepared_settings: Settings, channel: Channel) -> None:
    context = ll_member()
    account = context.loyalty
    output = EMAIL if channel is Channel.EMAIL else SMS
    built = scripted(prepared_settings, [output])
    draft = Drafter(built).draft(request(context, channel, LL), save=False)
    assert draft.status == DraftStatus.READY, draft.findings
    assert set(points_figures(draft)) <= account_points(account)
    assert f"{account.balance:,} points" in draft.text
    assert "200 points expire on 20 December 2011" in draft.text
    assert "grounding.numbers" not in check_ids(draft)
    if channel is Channel.SMS:
        assert draft.text.endswith("Reply STOP to opt out")
        assert count_sms(draft.text).segments <= 2
    else:
        assert "Next tier: 133 points to go until Studio" in draft.text
        assert "A reward you can choose: Wool comb and wash kit, for 200 points" in draft.text


def test_prompt_gets_no_numbers(prepared_settings: Settings) -> None:
    context = ll_member()
    built = scripted(prepared_settings, [EMAIL])
    Drafter(built).draft(request(context, brand_id=LL), save=False)
    prompt = built.provider.calls[0][-1].content
    assert "Update: some points expire soon; the next tier is within reach" in prompt
    assert str(context.loyalty.balance) not in prompt


# --- choosing the update's content ------------------------------------------------------------


def hh_account(rewards: list[EligibleReward], balance: int = 500) -> LoyaltyAccount:
    return LoyaltyAccount(
        brand=HH,
        program="Hearth & Holly Hearth Club",
        as_of=datetime(2011, 12, 9, tzinfo=UTC),
        derived=False,
        balance=balance,
        tier="sprig",
        tier_name="Sprig",
        qualifying_points=balance,
        next_tier="holly",
        next_tier_name="Holly",
        points_to_next_tier=1000,
        lots=[
            PointsLot(
                earned_at=datetime(2011, 6, 1, tzinfo=UTC),
                expires_at=datetime(2012, 6, 1, tzinfo=UTC),
                points=balance,
                remaining=balance,
            )
        ],
        eligible_rewards=rewards,
    )


def hh_buyer(*descriptions: str) -> CustomerContext:
    lines = [
        OrderLine(stock_code=str(index), description=text, quantity=1, unit_price=Decimal("5.00"))
        for index, text in enumerate(descriptions)
    ]
    order = Order(order_id="580001", placed_at=datetime(2011, 11, 1, tzinfo=UTC), lines=lines)
    return classified(CustomerContext(customer_id="hh-1", orders=[order]), HH)


BAUBLE = EligibleReward(
    reward_id="painted-bauble",
    name="Hand-painted glass bauble",
    points_cost=300,
    family="christmas-decorations",
    valid_until=date(2011, 12, 24),
)
GIFT_WRAP = EligibleReward(
    reward_id="gift-wrap", name="Gift wrapping for one order", points_cost=150
)


def test_reward_follows_purchases() -> None:
    context = hh_buyer("PAPER CHAIN KIT 50'S CHRISTMAS")
    reward = choose_reward(
        hh_account([GIFT_WRAP, BAUBLE]), context, datetime(2011, 12, 9, tzinfo=UTC)
    )
    assert reward == BAUBLE


def test_expired_reward_is_never_chosen() -> None:
    context = hh_buyer("PAPER CHAIN KIT 50'S CHRISTMAS")
    after_christmas = datetime(2011, 12, 27, tzinfo=UTC)
    reward = choose_reward(hh_account([GIFT_WRAP, BAUBLE]), context, after_christmas)
    assert reward == GIFT_WRAP


def test_reward_of_unbought_family_is_skipped() -> None:
    context = hh_buyer("JUMBO BAG RED RETROSPOT")
    reward = choose_reward(hh_account([BAUBLE]), context, datetime(2011, 12, 9, tzinfo=UTC))
    assert reward is None


def test_most_bought_family_wins() -> None:
    context = ll_member()
    reward = choose_reward(context.loyalty, context, LL_AS_OF)
    assert reward is not None
    assert reward.reward_id == "wool-care-kit"


@pytest.mark.parametrize(
    ("p_alive", "predicted_clv", "expected"),
    [
        (0.2, 5000.0, "Place one order this quarter"),
        (0.9, 5000.0, "Place three orders this quarter"),
        (0.9, 100.0, "Place two orders this quarter"),
    ],
)
def test_challenge_size_comes_from_value_and_risk(
    p_alive: float, predicted_clv: float, expected: str
) -> None:
    program = load_program(KB_DIR, HH).program
    signals = stored_signals(
        "hh-1", HH, EXTRACT_AS_OF, p_alive=p_alive, predicted_clv=predicted_clv
    )
    context = hh_buyer("PAPER CHAIN KIT 50'S CHRISTMAS")
    context.loyalty = hh_account([])
    situation = loyalty_situation(context, brand(HH), EXTRACT_AS_OF, signals, program)
    assert situation.details[-1].text.startswith(expected)


def test_challenge_ignores_who_the_customer_is() -> None:
    program = load_program(KB_DIR, HH).program
    signals = stored_signals("hh-1", HH, EXTRACT_AS_OF, p_alive=0.9, predicted_clv=2500.0)
    details = []
    for country, name in [("United Kingdom", "Sam"), ("Japan", "Yuki"), (None, None)]:
        context = hh_buyer("PAPER CHAIN KIT 50'S CHRISTMAS")
        context.country, context.first_name = country, name
        context.loyalty = hh_account([])
        situation = loyalty_situation(context, brand(HH), EXTRACT_AS_OF, signals, program)
        details.append(situation.details)
    assert details[0] == details[1] == details[2]


def test_challenge_without_account_states_no_balance() -> None:
    program = load_program(KB_DIR, HH).program
    signals = stored_signals("hh-1", HH, EXTRACT_AS_OF, p_alive=0.9, predicted_clv=100.0)
    situation = loyalty_situation(
        hh_buyer("JUMBO BAG RED RETROSPOT"), brand(HH), EXTRACT_AS_OF, signals, program
    )
    assert situation.ineligible is None
    assert [f.check_id for f in situation.findings] == ["loyalty.missing"]
    assert [line.label for line in situation.details] == ["Your challenge"]
    assert not any(char.isdigit() for line in situation.details for char in line.text)


def test_nothing_to_say_is_ineligible() -> None:
    order = (
        ll_context()
        .orders[-1]
        .model_copy(update={"lines": [ll_line("LL-S610", "LINEN A-LINE SKIRT", "60.00")]})
    )
    context = classified(ll_context(orders=[order]))
    context.loyalty = ll_account_without_old_lot(context)
    situation = loyalty_situation(context, brand(LL), LL_AS_OF, None, None)
    assert situation.ineligible is not None
    assert situation.ineligible.check_id == "loyalty.nothing_to_say"


def ll_account_without_old_lot(context: CustomerContext) -> LoyaltyAccount:
    """An account with only the points of one recent 60-pound order."""
    from agent.loyalty.accounts import StoredLedger, build_account
    from agent.loyalty.models import LedgerEntryType, LedgerLine, LedgerSource

    order = context.orders[0]
    entry = LedgerLine(
        type=LedgerEntryType.EARNED,
        points=60,
        at=order.placed_at,
        reference=f"order:{order.order_id}",
        source=LedgerSource.IMPORTED,
    )
    program = load_program(KB_DIR, LL).program
    families = {line.family for line in order.lines if line.family}
    return build_account(StoredLedger(LL, program, [entry]), LL_AS_OF, families)


# --- the real local model -----------------------------------------------------------------


@pytest.fixture(scope="module")
def real_loyalty_services(loyalty_settings: Settings):
    return Services(loyalty_settings.model_copy(update={"llm_timeout_s": 120}))


@pytest.mark.slow
@pytest.mark.parametrize("brand_id", [HH, LL])
@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.SMS])
def test_real_model_drafts_loyalty_update(
    real_loyalty_services: Services, brand_id: str, channel: Channel
) -> None:
    if brand_id == HH:
        stored = hh_member(real_loyalty_services, expiring=True, within_reach=True)
        # A stored customer with SMS consent, as the CRM would send it inline.
        stored.consent = Consent(email_marketing=True, sms_marketing=True)
        context = stored
    else:
        context = ll_member()
    draft = Drafter(real_loyalty_services).draft(request(context, channel, brand_id))
    print(f"\n--- {brand_id} {channel} ({draft.status}, {draft.attempts} calls)")
    print(f"{draft.subject}\n{draft.text}")
    assert draft.model.startswith("SmolLM2")
    assert draft.status != DraftStatus.BLOCKED, draft.findings
    assert f"{context.loyalty.balance:,} points" in draft.text
    assert set(points_figures(draft)) <= account_points(context.loyalty)
    assert "grounding.numbers" not in check_ids(draft)
