from datetime import UTC, datetime
from decimal import Decimal

import pytest

from agent.config import Settings
from agent.domain import Channel, CustomerContext, MessageKind, Order, OrderLine
from agent.drafting.copy import MissingApprovedCopy, approved_fields, pick_tip
from agent.drafting.prompting import spoken_product
from agent.knowledge.brand import classify_family, load_brand


@pytest.fixture
def brand():
    settings = Settings()
    return load_brand(settings.kb_dir, settings.default_brand)


def context_with(brand, *descriptions: str) -> CustomerContext:
    lines = [
        OrderLine(
            stock_code=str(i),
            description=d,
            quantity=1,
            unit_price=Decimal("1.00"),
            family=classify_family(d, brand),
        )
        for i, d in enumerate(descriptions)
    ]
    order = Order(order_id="570001", placed_at=datetime(2011, 10, 1, tzinfo=UTC), lines=lines)
    return CustomerContext(customer_id="c1", orders=[order])


def test_offer_fills_placeholder(brand) -> None:
    fields = approved_fields(brand, MessageKind.WINBACK, Channel.EMAIL, "10% off your next order")
    assert "10% off your next order" in fields["body"]
    assert "{offer}" not in fields["body"]


def test_missing_copy_names_keys(brand) -> None:
    brand.approved_copy.pop("loyalty_update")
    with pytest.raises(MissingApprovedCopy) as error:
        approved_fields(brand, MessageKind.LOYALTY_UPDATE, Channel.EMAIL, None)
    assert "loyalty_update" in str(error.value)


def test_variant_copy_comes_first(brand) -> None:
    fields = approved_fields(brand, MessageKind.REFERRAL_INVITE, Channel.EMAIL, None, variant="ugc")
    assert fields["call_to_action"] == "Add a photo"


def test_problem_placeholder_is_filled(brand) -> None:
    values = {"problem": "we sent you the wrong item"}
    fields = approved_fields(brand, MessageKind.SERVICE_RECOVERY, Channel.SMS, None, values=values)
    assert fields["body"].startswith("We are sorry that we sent you the wrong item,")


def test_unfilled_placeholder_is_rejected(brand) -> None:
    with pytest.raises(MissingApprovedCopy) as error:
        approved_fields(brand, MessageKind.SERVICE_RECOVERY, Channel.EMAIL, None)
    assert "{problem}" in str(error.value)


def test_tip_matches_product_words(brand) -> None:
    tip = pick_tip(context_with(brand, "DOORMAT 3 SMILEY CATS"), brand)
    assert "doormat" in tip.text.lower()


def test_tip_prefers_best_matching_line(brand) -> None:
    context = context_with(brand, "RED RETROSPOT UMBRELLA", "JUMBO BAG RED RETROSPOT")
    tip = pick_tip(context, brand)
    assert "jumbo bag" in tip.text.lower()


def test_tip_is_stable(brand) -> None:
    context = context_with(brand, "WHITE HANGING HEART T-LIGHT HOLDER")
    assert pick_tip(context, brand) == pick_tip(context, brand)


def test_no_tip_without_guided_family(brand) -> None:
    assert pick_tip(context_with(brand, "POSTAGE"), brand) is None


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("LUNCH BAG PAISLEY PARK", "lunch bag"),
        ("PACK OF 72 RETROSPOT CAKE CASES", "cake cases"),
        ("REGENCY CAKESTAND 3 TIER", "cakestand"),
        ("85123A", "order"),
    ],
)
def test_spoken_product_names_head_noun(brand, description: str, expected: str) -> None:
    assert spoken_product(description, brand) == expected
