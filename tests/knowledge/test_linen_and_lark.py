"""The second demo brand, Linen & Lark: its profile, and how its families classify garments."""

from __future__ import annotations

import csv
import gzip
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from agent.domain import BrandProfile
from agent.knowledge.brand import classify_family, list_brands, load_brand
from tests.knowledge.conftest import KB_DIR

FASHION_BRAND = "linen-and-lark"
FAMILIES = [
    "dresses-and-jumpsuits",
    "knitwear",
    "tops-and-tees",
    "blouses-and-shirts",
    "trousers-jeans-and-shorts",
    "skirts",
    "jackets-and-coats",
    "lounge-and-sleep",
    "swimwear",
    "lingerie-and-legwear",
]
COPY_KEYS = ["order_followup", "usage_tip", "review_request", "winback", "winback/offer"]
REVIEWS_FILE = "womens_clothing_ecommerce_reviews.csv.gz"


@pytest.fixture(scope="module")
def brand() -> BrandProfile:
    return load_brand(KB_DIR, FASHION_BRAND)


def test_both_demo_brands_listed() -> None:
    assert {"hearth-and-holly", FASHION_BRAND} <= set(list_brands(KB_DIR))


def test_identity(brand: BrandProfile) -> None:
    assert brand.brand_id == FASHION_BRAND
    assert brand.name == "Linen & Lark"
    assert brand.locale == "en-GB"
    assert brand.timezone == "Europe/London"


def test_compliance_fields(brand: BrandProfile) -> None:
    assert brand.unsubscribe_url == "https://linenandlark.example/unsubscribe/{token}"
    assert brand.review_url == "{{review_link}}"
    assert brand.shop_url == "https://linenandlark.example"
    assert brand.sms_sender == "LinenLark"
    assert brand.sms_max_segments == 2
    assert brand.soft_opt_in_email is True
    assert brand.delivery_days == 2
    assert brand.international_delivery_days == 5
    assert brand.dispatch_cutoff_hour == 14


def test_postal_address_is_uk(brand: BrandProfile) -> None:
    assert brand.postal_address.endswith("United Kingdom")
    assert re.search(r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}", brand.postal_address)


def test_incentive_ladder(brand: BrandProfile) -> None:
    spends = [step.min_lifetime_spend for step in brand.incentive_ladder]
    offers = [step.offer for step in brand.incentive_ladder]
    assert spends == [Decimal(0), Decimal(150), Decimal(400), Decimal(1000)]
    assert offers[0] is None
    assert offers[1:] == [
        "free standard delivery on your next order",
        "10% off your next order",
        "15% off your next order",
    ]


def test_banned_phrases_are_lower_case(brand: BrandProfile) -> None:
    assert "bikini body" in brand.banned_phrases
    assert all(phrase == phrase.lower() for phrase in brand.banned_phrases)


def test_families_follow_guide_order(brand: BrandProfile) -> None:
    assert [family.family_id for family in brand.families] == FAMILIES


@pytest.mark.parametrize("family_id", FAMILIES)
def test_family_tips_are_short_sentences(brand: BrandProfile, family_id: str) -> None:
    (family,) = [family for family in brand.families if family.family_id == family_id]
    assert 3 <= len(family.tips) <= 5
    for tip in family.tips:
        assert tip.endswith("."), tip
        assert ". " not in tip, tip
        assert len(tip) <= 140, tip


@pytest.mark.parametrize("family_id", FAMILIES)
def test_family_keywords_unique(brand: BrandProfile, family_id: str) -> None:
    (family,) = [family for family in brand.families if family.family_id == family_id]
    assert len(set(family.keywords)) == len(family.keywords)
    assert family.usage_window_days > 0


@pytest.mark.parametrize("key", COPY_KEYS)
def test_approved_copy_limits(brand: BrandProfile, key: str) -> None:
    copy = brand.approved_copy[key]
    text = " ".join(copy.values())
    assert len(copy["subject"]) <= 60
    assert len(copy["call_to_action"]) <= 30
    assert 1 <= copy["body"].count(".") <= 2
    assert not any(char.isdigit() for char in text)
    assert not copy["body"].lower().startswith(("hi", "hello", "dear"))
    assert [phrase for phrase in brand.banned_phrases if phrase in text.lower()] == []


def test_offer_placeholder_only_in_offer_copy(brand: BrandProfile) -> None:
    assert "{offer}" in brand.approved_copy["winback/offer"]["body"]
    assert "{offer}" not in brand.approved_copy["winback"]["body"]


# --- classification -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("class_name", "family"),
    [
        ("Dresses", "dresses-and-jumpsuits"),
        ("Knits", "tops-and-tees"),
        ("Layering", "tops-and-tees"),
        ("Blouses", "blouses-and-shirts"),
        ("Sweaters", "knitwear"),
        ("Fine gauge", "knitwear"),
        ("Pants", "trousers-jeans-and-shorts"),
        ("Jeans", "trousers-jeans-and-shorts"),
        ("Shorts", "trousers-jeans-and-shorts"),
        ("Casual bottoms", "trousers-jeans-and-shorts"),
        ("Skirts", "skirts"),
        ("Jackets", "jackets-and-coats"),
        ("Outerwear", "jackets-and-coats"),
        ("Lounge", "lounge-and-sleep"),
        ("Sleep", "lounge-and-sleep"),
        ("Swim", "swimwear"),
        ("Intimates", "lingerie-and-legwear"),
        ("Legwear", "lingerie-and-legwear"),
        ("Chemises", "lingerie-and-legwear"),
    ],
)
def test_classify_review_class_names(brand: BrandProfile, class_name: str, family: str) -> None:
    assert classify_family(class_name, brand) == family


@pytest.mark.parametrize(
    ("description", "family"),
    [
        ("LINEN MAXI DRESS", "dresses-and-jumpsuits"),
        ("RIBBED SWEATER DRESS", "dresses-and-jumpsuits"),
        ("STRIPED T-SHIRT DRESS", "dresses-and-jumpsuits"),
        ("DENIM DUNGAREES", "dresses-and-jumpsuits"),
        ("MERINO ROLL NECK JUMPER", "knitwear"),
        ("relaxed cotton tee", "tops-and-tees"),
        ("SILK BUTTON-DOWN SHIRT", "blouses-and-shirts"),
        ("WIDE-LEG TROUSERS", "trousers-jeans-and-shorts"),
        ("PLEATED MIDI SKIRT", "skirts"),
        ("MAXI SKIRT", "skirts"),
        ("DENIM JACKET", "jackets-and-coats"),
        ("SLEEP SHORTS", "lounge-and-sleep"),
        ("LOUNGE PANTS", "lounge-and-sleep"),
        ("SWIM SHORTS", "swimwear"),
        ("BIKINI BOTTOMS", "swimwear"),
        ("SLIP DRESS", "dresses-and-jumpsuits"),
        ("LACE SLIP", "lingerie-and-legwear"),
        ("80 DENIER TIGHTS", "lingerie-and-legwear"),
    ],
)
def test_classify_garment_names(brand: BrandProfile, description: str, family: str) -> None:
    assert classify_family(description, brand) == family


@pytest.mark.parametrize("description", ["Trend", "GIFT CARD", "", "   "])
def test_classify_non_garments_none(brand: BrandProfile, description: str) -> None:
    assert classify_family(description, brand) is None


def test_review_classes_classified(brand: BrandProfile, shared_data_dir: Path) -> None:
    path = shared_data_dir / REVIEWS_FILE
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        classes = Counter(row["Class Name"] for row in csv.DictReader(handle))
    unclassified = {name for name in classes if classify_family(name, brand) is None}
    classified_rows = sum(count for name, count in classes.items() if name not in unclassified)
    assert sum(classes.values()) == 23_486
    # The class "Trend" names no garment type, and some rows have no class at all.
    assert unclassified == {"Trend", ""}
    assert classified_rows / sum(classes.values()) >= 0.99
