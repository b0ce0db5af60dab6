"""Brand profile loading from front matter, and product-family classification."""

from __future__ import annotations

import csv
import gzip
import os
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from agent.domain import BrandProfile, MessageKind, ProductFamily
from agent.knowledge.brand import BrandNotFound, classify_family, list_brands, load_brand
from agent.knowledge.documents import InvalidKnowledgeDocument
from tests.knowledge.conftest import BRAND, KB_DIR, copy_small_kb


@pytest.fixture(scope="module")
def brand() -> BrandProfile:
    return load_brand(KB_DIR, BRAND)


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    return copy_small_kb(tmp_path / "kb")


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not found in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


# --- the demo brand -------------------------------------------------------------------


def test_list_brands_finds_demo_brand() -> None:
    assert BRAND in list_brands(KB_DIR)


def test_list_brands_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "no-documents").mkdir()
    assert list_brands(tmp_path) == []


def test_list_brands_missing_folder(tmp_path: Path) -> None:
    assert list_brands(tmp_path / "absent") == []


def test_demo_brand_identity(brand: BrandProfile) -> None:
    assert brand.brand_id == BRAND
    assert brand.name == "Hearth & Holly"
    assert brand.locale == "en-GB"
    assert brand.timezone == "Europe/London"


def test_demo_brand_compliance_fields(brand: BrandProfile) -> None:
    assert "{token}" in brand.unsubscribe_url
    assert brand.review_url == "{{review_link}}"
    assert brand.sms_max_segments == 2
    assert brand.soft_opt_in_email is True
    assert len(brand.sms_sender) <= 11
    assert brand.shop_url.startswith("https://")
    assert brand.delivery_days == 3


def test_demo_brand_postal_address_is_uk(brand: BrandProfile) -> None:
    assert brand.postal_address.endswith("United Kingdom")
    assert re.search(r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}", brand.postal_address)


def test_incentive_ladder_rises_from_zero(brand: BrandProfile) -> None:
    ladder = brand.incentive_ladder
    spends = [step.min_lifetime_spend for step in ladder]
    assert spends[0] == Decimal(0)
    assert spends == sorted(spends)
    assert len(set(spends)) == len(spends)
    assert ladder[0].offer is None
    assert all(step.offer for step in ladder[1:])


def test_banned_phrases_are_lower_case(brand: BrandProfile) -> None:
    assert brand.banned_phrases
    assert all(phrase == phrase.lower() for phrase in brand.banned_phrases)


def test_families_follow_guide_order(brand: BrandProfile) -> None:
    ids = [family.family_id for family in brand.families]
    assert len(ids) == 10
    assert ids[0] == "candles-and-lighting"
    assert ids[-1] == "home-decor-and-signs"


@pytest.mark.parametrize("index", range(10))
def test_family_tips_are_short_sentences(brand: BrandProfile, index: int) -> None:
    family = brand.families[index]
    assert 3 <= len(family.tips) <= 5
    for tip in family.tips:
        assert tip.endswith("."), tip
        assert tip.count(". ") == 0, tip
        assert len(tip) <= 140, tip


@pytest.mark.parametrize("index", range(10))
def test_family_keywords_are_upper_case(brand: BrandProfile, index: int) -> None:
    family = brand.families[index]
    assert all(keyword == keyword.upper() for keyword in family.keywords)
    assert len(set(family.keywords)) == len(family.keywords)


def test_approved_copy_covers_supported_kinds(brand: BrandProfile) -> None:
    expected = {"order_followup", "usage_tip", "review_request", "winback", "winback/offer"}
    assert expected <= set(brand.approved_copy)


def test_approved_copy_offer_placeholder(brand: BrandProfile) -> None:
    assert "{offer}" in brand.approved_copy["winback/offer"]["body"]
    assert "{offer}" not in brand.approved_copy["winback"]["body"]


@pytest.mark.parametrize(
    "key", ["order_followup", "usage_tip", "review_request", "winback", "winback/offer"]
)
def test_approved_copy_limits(brand: BrandProfile, key: str) -> None:
    copy = brand.approved_copy[key]
    assert set(copy) == {"subject", "body", "call_to_action"}
    assert len(copy["subject"]) <= 60
    assert len(copy["call_to_action"]) <= 30
    assert 1 <= copy["body"].count(".") <= 2
    assert not any(char.isdigit() for char in "".join(copy.values()))
    assert not copy["body"].lower().startswith(("hi", "hello", "dear"))


@pytest.mark.parametrize(
    "key", ["order_followup", "usage_tip", "review_request", "winback", "winback/offer"]
)
def test_approved_copy_avoids_banned_phrases(brand: BrandProfile, key: str) -> None:
    text = " ".join(brand.approved_copy[key].values()).lower()
    assert [phrase for phrase in brand.banned_phrases if phrase in text] == []


def test_load_brand_returns_independent_copies() -> None:
    first = load_brand(KB_DIR, BRAND)
    first.name = "changed"
    assert load_brand(KB_DIR, BRAND).name == "Hearth & Holly"


def test_message_kinds_in_copy_are_valid(brand: BrandProfile) -> None:
    kinds = {kind.value for kind in MessageKind}
    assert {key.split("/")[0] for key in brand.approved_copy} <= kinds


# --- errors ---------------------------------------------------------------------------


def test_unknown_brand_lists_available(tmp_path: Path) -> None:
    with pytest.raises(BrandNotFound) as caught:
        load_brand(KB_DIR, "no-such-brand")
    message = str(caught.value)
    assert "'no-such-brand'" in message
    assert BRAND in message
    assert str(KB_DIR) in message
    assert isinstance(caught.value, LookupError)


def test_brand_id_with_path_parts_not_found() -> None:
    with pytest.raises(BrandNotFound):
        load_brand(KB_DIR, "../kb")


def test_invalid_doc_type_names_file_and_field(kb_copy: Path) -> None:
    path = kb_copy / BRAND / "voice.md"
    replace_in(path, "doc_type: voice", "doc_type: blog")
    with pytest.raises(InvalidKnowledgeDocument) as caught:
        load_brand(kb_copy, BRAND)
    assert caught.value.path == path
    assert caught.value.field == "doc_type"
    assert str(path) in str(caught.value)


def test_negative_spend_names_ladder_field(kb_copy: Path) -> None:
    path = kb_copy / BRAND / "incentives.md"
    replace_in(path, "min_lifetime_spend: 500", "min_lifetime_spend: -5")
    with pytest.raises(InvalidKnowledgeDocument) as caught:
        load_brand(kb_copy, BRAND)
    assert caught.value.path == path
    assert caught.value.field == "incentive_ladder.1.min_lifetime_spend"


def test_unsorted_ladder_rejected(kb_copy: Path) -> None:
    path = kb_copy / BRAND / "incentives.md"
    replace_in(path, "min_lifetime_spend: 2000", "min_lifetime_spend: 400")
    with pytest.raises(InvalidKnowledgeDocument) as caught:
        load_brand(kb_copy, BRAND)
    assert caught.value.field == "incentive_ladder.2.min_lifetime_spend"


def test_yaml_syntax_error_names_file(kb_copy: Path) -> None:
    path = kb_copy / BRAND / "voice.md"
    replace_in(path, "topics: [voice,", "topics: [voice,, ]]")
    with pytest.raises(InvalidKnowledgeDocument) as caught:
        load_brand(kb_copy, BRAND)
    assert caught.value.path == path
    assert "YAML" in str(caught.value)


def test_missing_front_matter_rejected(kb_copy: Path) -> None:
    path = kb_copy / BRAND / "notes.md"
    path.write_text("# Notes\n\nNo front matter here.\n", encoding="utf-8")
    with pytest.raises(InvalidKnowledgeDocument) as caught:
        load_brand(kb_copy, BRAND)
    assert caught.value.path == path


def test_unknown_field_rejected(kb_copy: Path) -> None:
    path = kb_copy / BRAND / "voice.md"
    replace_in(path, "banned_phrases:", "favourite_colour: red\nbanned_phrases:")
    with pytest.raises(InvalidKnowledgeDocument) as caught:
        load_brand(kb_copy, BRAND)
    assert caught.value.field == "favourite_colour"


def test_field_set_twice_names_both_files(kb_copy: Path) -> None:
    path = kb_copy / BRAND / "voice.md"
    replace_in(path, "banned_phrases:", "delivery_days: 5\nbanned_phrases:")
    with pytest.raises(InvalidKnowledgeDocument) as caught:
        load_brand(kb_copy, BRAND)
    message = str(caught.value)
    assert caught.value.field == "delivery_days"
    assert "voice.md" in message
    assert "delivery-returns.md" in message


def test_missing_required_field_named(kb_copy: Path) -> None:
    path = kb_copy / BRAND / "compliance.md"
    replace_in(path, "sms_sender: HearthHolly\n", "")
    with pytest.raises(InvalidKnowledgeDocument) as caught:
        load_brand(kb_copy, BRAND)
    assert caught.value.field == "sms_sender"


def test_lower_case_keyword_rejected(kb_copy: Path) -> None:
    path = kb_copy / BRAND / "guides" / "01-candles-and-lighting.md"
    replace_in(path, "keywords: [T-LIGHT,", "keywords: [t-light,")
    with pytest.raises(InvalidKnowledgeDocument) as caught:
        load_brand(kb_copy, BRAND)
    assert caught.value.field == "keywords.0"


def test_duplicate_doc_id_rejected(kb_copy: Path) -> None:
    shutil.copyfile(kb_copy / BRAND / "voice.md", kb_copy / BRAND / "voice-copy.md")
    with pytest.raises(InvalidKnowledgeDocument) as caught:
        load_brand(kb_copy, BRAND)
    assert caught.value.field == "doc_id"


def test_copy_with_number_rejected(kb_copy: Path) -> None:
    path = kb_copy / BRAND / "approved-copy.md"
    replace_in(path, "subject: Thank you for your order", "subject: Thank you for your 1st order")
    with pytest.raises(InvalidKnowledgeDocument) as caught:
        load_brand(kb_copy, BRAND)
    assert caught.value.field == "approved_copy.order_followup"


def test_brand_id_must_match_folder(kb_copy: Path) -> None:
    replace_in(kb_copy / BRAND / "brand.md", "brand_id: hearth-and-holly", "brand_id: other")
    with pytest.raises(InvalidKnowledgeDocument) as caught:
        load_brand(kb_copy, BRAND)
    assert caught.value.field == "brand_id"


def test_cache_reloads_changed_file(kb_copy: Path) -> None:
    path = kb_copy / BRAND / "brand.md"
    assert load_brand(kb_copy, BRAND).name == "Hearth & Holly"
    replace_in(path, "name: Hearth & Holly", "name: Hearth & Ivy")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert load_brand(kb_copy, BRAND).name == "Hearth & Ivy"


# --- classification -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("description", "family"),
    [
        ("WHITE HANGING HEART T-LIGHT HOLDER", "candles-and-lighting"),
        ("RABBIT NIGHT LIGHT", "candles-and-lighting"),
        ("REGENCY CAKESTAND 3 TIER", "kitchen-and-baking"),
        ("PACK OF 72 RETROSPOT CAKE CASES", "kitchen-and-baking"),
        ("JAM MAKING SET WITH JARS", "kitchen-and-baking"),
        ("JUMBO BAG RED RETROSPOT", "bags-and-storage"),
        ("LUNCH BAG  BLACK SKULL.", "bags-and-storage"),
        ("CHOCOLATE HOT WATER BOTTLE", "textiles-and-warmers"),
        ("PARTY BUNTING", "party-and-celebration"),
        ("PAPER CHAIN KIT 50'S CHRISTMAS", "christmas-decorations"),
        ("VINTAGE SNAP CARDS", "toys-and-games"),
        ("VINTAGE SNAKES & LADDERS", "toys-and-games"),
        ("12 PENCILS SMALL TUBE RED RETROSPOT", "stationery-and-gift-wrap"),
        ("PLEASE ONE PERSON METAL SIGN", "home-decor-and-signs"),
        ("ASSORTED COLOUR BIRD ORNAMENT", "home-decor-and-signs"),
        ("TRAVEL CARD WALLET KEEP CALM", "personal-and-travel"),
        ("white hanging heart t-light holder", "candles-and-lighting"),
    ],
)
def test_classify_real_descriptions(brand: BrandProfile, description: str, family: str) -> None:
    assert classify_family(description, brand) == family


@pytest.mark.parametrize("description", ["POSTAGE", "DOTCOM POSTAGE", "Manual", "", "   "])
def test_classify_non_products_none(brand: BrandProfile, description: str) -> None:
    assert classify_family(description, brand) is None


def make_brand(families: list[tuple[str, list[str]]]) -> BrandProfile:
    return BrandProfile(
        brand_id="test-brand",
        name="Test",
        postal_address="1 Test Street",
        unsubscribe_url="https://shop.example/u/{token}",
        review_url="{{review_link}}",
        shop_url="https://shop.example",
        sms_sender="Test",
        families=[
            ProductFamily(family_id=fid, name=fid, keywords=keywords, usage_window_days=7)
            for fid, keywords in families
        ],
    )


def test_classify_longest_keyword_wins() -> None:
    brand = make_brand([("decor", ["HEART", "HANGING"]), ("candles", ["T-LIGHT HOLDER"])])
    assert classify_family("WHITE HANGING HEART T-LIGHT HOLDER", brand) == "candles"


def test_classify_tie_goes_to_first_family() -> None:
    first = make_brand([("a", ["STAR"]), ("b", ["TREE"])])
    second = make_brand([("b", ["TREE"]), ("a", ["STAR"])])
    assert classify_family("STAR TREE", first) == "a"
    assert classify_family("STAR TREE", second) == "b"


def test_classify_whole_words_only() -> None:
    brand = make_brand([("candles", ["CANDLE"]), ("decor", ["HEART"])])
    assert classify_family("CANDLESTICK HEARTS", brand) is None


def test_classify_punctuation_separates_words() -> None:
    brand = make_brand([("candles", ["CANDLE"])])
    assert classify_family("INCENSE/CANDLE SET", brand) == "candles"
    assert classify_family("CANDLE, IVORY", brand) == "candles"


@pytest.mark.slow
def test_keywords_cover_most_order_lines(brand: BrandProfile, shared_data_dir: Path) -> None:
    path = shared_data_dir / "online_retail_2010_2011.csv.gz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    families: dict[str, str | None] = {}
    total = classified = 0
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            description = row["Description"] or ""
            if description not in families:
                families[description] = classify_family(description, brand)
            total += 1
            classified += families[description] is not None
    assert total == 541_909
    assert classified / total >= 0.75
