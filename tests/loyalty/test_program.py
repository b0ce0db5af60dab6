"""Loyalty programme files: the shipped ones load, and a bad file names what is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.knowledge.brand import list_brands, load_brand
from agent.knowledge.documents import document_paths
from agent.loyalty.program import (
    InvalidLoyaltyProgram,
    LoyaltyProgramNotFound,
    load_program,
)
from tests.loyalty.conftest import KB_DIR


@pytest.mark.parametrize("brand_id", ["hearth-and-holly", "linen-and-lark"])
def test_shipped_programme_is_valid(brand_id: str) -> None:
    families = {family.family_id for family in load_brand(KB_DIR, brand_id).families}

    loaded = load_program(KB_DIR, brand_id, families=families)

    program = loaded.program
    assert program.tiers[0].min_points == 0
    assert len(program.tiers) >= 3
    assert program.points_expiry_months == 12
    assert any(reward.family is None for reward in program.rewards)
    assert {r.family for r in program.rewards if r.family} <= families
    assert len(loaded.sha256) == 64


def test_ingest_skips_programme_file() -> None:
    for brand_id in list_brands(KB_DIR):
        paths = document_paths(KB_DIR / brand_id)
        assert (KB_DIR / brand_id / "loyalty.yaml").is_file()
        assert all(path.suffix == ".md" for path in paths)


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    target = tmp_path / "kb" / "hearth-and-holly"
    target.mkdir(parents=True)
    shutil.copyfile(KB_DIR / "hearth-and-holly" / "loyalty.yaml", target / "loyalty.yaml")
    return tmp_path / "kb"


def _edit(kb: Path, old: str, new: str) -> Path:
    path = kb / "hearth-and-holly" / "loyalty.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, start=1) if text in line)


def test_negative_threshold_names_file_line_field_value(kb_copy: Path) -> None:
    path = _edit(kb_copy, "min_points: 500", "min_points: -5")

    with pytest.raises(InvalidLoyaltyProgram) as caught:
        load_program(kb_copy, "hearth-and-holly")

    message = str(caught.value)
    assert str(path) in message
    assert "field `tiers.1.min_points`" in message
    assert "value -5" in message
    assert f"line {_line_of(path, 'min_points: -5')}" in message


def test_thresholds_must_rise(kb_copy: Path) -> None:
    _edit(kb_copy, "min_points: 2000", "min_points: 400")

    with pytest.raises(InvalidLoyaltyProgram, match="'evergreen' has min_points 400, not above"):
        load_program(kb_copy, "hearth-and-holly")


def test_reward_ending_before_start_is_invalid(kb_copy: Path) -> None:
    _edit(kb_copy, "valid_until: 2011-12-24", "valid_until: 2011-09-30")

    with pytest.raises(InvalidLoyaltyProgram) as caught:
        load_program(kb_copy, "hearth-and-holly")

    assert "rewards.4" in str(caught.value)
    assert "2011-09-30 is before `valid_from` 2011-10-01" in str(caught.value)


def test_unknown_reward_family_is_invalid(kb_copy: Path) -> None:
    _edit(kb_copy, "family: kitchen-and-baking", "family: garden-tools")

    with pytest.raises(InvalidLoyaltyProgram) as caught:
        load_program(kb_copy, "hearth-and-holly", families={"candles-and-lighting"})

    message = str(caught.value)
    assert "field `rewards.2.family`" in message
    assert "'garden-tools' is not a product family" in message


def test_unknown_field_is_invalid(kb_copy: Path) -> None:
    _edit(kb_copy, "expiry_warning_days: 30", "expiry_warning_days: 30\npoints_expire: yes")

    with pytest.raises(InvalidLoyaltyProgram, match="field `points_expire`"):
        load_program(kb_copy, "hearth-and-holly")


def test_broken_yaml_is_invalid(kb_copy: Path) -> None:
    _edit(kb_copy, "tiers:", "tiers: [")

    with pytest.raises(InvalidLoyaltyProgram, match="not valid YAML"):
        load_program(kb_copy, "hearth-and-holly")


def test_missing_programme_file(tmp_path: Path) -> None:
    with pytest.raises(LoyaltyProgramNotFound, match="has no loyalty programme"):
        load_program(tmp_path, "hearth-and-holly")
