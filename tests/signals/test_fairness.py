"""Fairness check of offers and challenge sizes across countries and tenure bands."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agent.context.store import ContextStore
from agent.guardrails.offers import allowed_offer_for
from agent.loyalty.challenges import challenge_size
from agent.signals.community import community_report_section
from agent.signals.fairness import (
    MIN_EFFECT,
    MIN_GROUP_SIZE,
    FairnessInputError,
    GroupGap,
    build_fairness,
    check_fairness,
    customer_row,
    fairness_report_section,
    fairness_section,
    load_fairness_inputs,
    offer_level,
    prepare,
    tenure_band,
)
from agent.signals.report import DEFAULT_SECTIONS, write_report
from tests.signals.conftest import ExtractDatabase
from tests.signals.factories import AS_OF, brand, context, line, order

CUSTOMERS = 800
# Predicted value from which each ladder rung's offer is given in the constructed data.
RUNG_VALUES = [150.0, 400.0, 1000.0]


def customers(*, country_bonus: float = 0.0, seed: int = 3) -> pd.DataFrame:
    """Constructed customers: Germans have higher predicted values than the UK.

    The offer level follows the predicted value. With `country_bonus`, that share of German
    customers gets one more rung, which value and risk do not explain.
    """
    rng = np.random.default_rng(seed)
    german = rng.random(CUSTOMERS) < 0.3
    value = np.exp(rng.normal(5 + german * 1.0, 1.0))
    risk = rng.beta(2, 3, CUSTOMERS)
    level = np.digitize(value, RUNG_VALUES)
    bonus = german & (rng.random(CUSTOMERS) < country_bonus)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(CUSTOMERS)],
            "country": np.where(german, "Germany", "United Kingdom"),
            "tenure_days": rng.uniform(10, 700, CUSTOMERS),
            "predicted_value": value,
            "churn_risk": risk,
            "offer_level": np.minimum(level + bonus, 3),
        }
    )


def gap(gaps: list[GroupGap], attribute: str, group: str, outcome: str) -> GroupGap:
    return next(g for g in gaps if (g.attribute, g.group, g.outcome) == (attribute, group, outcome))


def test_gap_explained_by_value_is_not_flagged() -> None:
    result = check_fairness(prepare(customers()))

    german = gap(result.gaps, "country", "Germany", "offer_level")
    assert german.tested
    assert german.raw_gap > 0.5
    assert german.adjusted_gap is not None
    assert abs(german.adjusted_gap) < german.raw_gap / 4
    assert not german.flagged
    assert result.flagged == []


def test_gap_not_explained_by_value_is_flagged() -> None:
    result = check_fairness(prepare(customers(country_bonus=0.5)))

    german = gap(result.gaps, "country", "Germany", "offer_level")
    assert german.flagged
    assert german.effect is not None
    assert german.effect >= MIN_EFFECT
    assert german.p_adjusted is not None
    assert german.p_adjusted < 0.05
    flagged = {(g.attribute, g.group, g.outcome) for g in result.flagged}
    assert flagged == {
        ("country", "Germany", "offer_level"),
        ("country", "United Kingdom", "offer_level"),
    }


def test_challenge_sizes_are_never_flagged() -> None:
    table = prepare(customers(country_bonus=0.5))

    result = check_fairness(table)

    challenge_gaps = [g for g in result.gaps if g.outcome == "challenge_orders" and g.tested]
    assert challenge_gaps
    assert not any(g.flagged for g in challenge_gaps)
    pairs = zip(table["predicted_value"], table["churn_risk"], strict=True)
    expected = [challenge_size(value, risk) for value, risk in pairs]
    assert list(table["challenge_orders"]) == expected


def test_small_groups_are_not_tested() -> None:
    table = customers()
    table.loc[: MIN_GROUP_SIZE - 2, "country"] = "Iceland"

    result = check_fairness(prepare(table))

    iceland = gap(result.gaps, "country", "Iceland", "offer_level")
    assert iceland.customers == MIN_GROUP_SIZE - 1
    assert not iceland.tested
    assert iceland.p_value is None
    assert not iceland.flagged


def test_same_seed_same_p_values() -> None:
    table = prepare(customers(country_bonus=0.2))

    first = check_fairness(table, seed=5)
    second = check_fairness(table, seed=5)

    assert [g.p_value for g in first.gaps] == [g.p_value for g in second.gaps]


def test_too_few_customers_gives_note() -> None:
    result = check_fairness(prepare(customers().head(10)))

    assert result.gaps == []
    assert "too few to compare groups" in result.notes[0]


def test_missing_column_is_rejected() -> None:
    with pytest.raises(FairnessInputError, match=r"lacks the columns \['churn_risk'\]"):
        prepare(customers().drop(columns=["churn_risk"]))


def test_invalid_value_is_rejected() -> None:
    table = customers()
    table.loc[4, "predicted_value"] = float("nan")

    with pytest.raises(FairnessInputError, match="'predicted_value' of customer 'c4'"):
        prepare(table)


def test_risk_out_of_range_is_rejected() -> None:
    table = customers()
    table.loc[2, "churn_risk"] = 1.4

    with pytest.raises(FairnessInputError, match="churn_risk must be from 0 to 1"):
        prepare(table)


@pytest.mark.parametrize(
    ("days", "band"),
    [
        (0, "under 90 days"),
        (89.9, "under 90 days"),
        (90, "90 to 179 days"),
        (400, "365 days or more"),
    ],
)
def test_tenure_bands(days: float, band: str) -> None:
    assert tenure_band(days) == band


def test_offer_level_follows_ladder() -> None:
    profile = brand()
    big = [line(quantity=1000, unit_price=Decimal("2.50"))]  # 2,500 of lifetime spend

    small_context = context()
    big_context = context(orders=[order(lines=big)])

    assert allowed_offer_for(small_context, profile) is None
    assert offer_level(small_context, profile) == 0
    assert allowed_offer_for(big_context, profile) == "10% off your next order"
    assert offer_level(big_context, profile) == 2


def test_customer_row_needs_live_order() -> None:
    row = customer_row(context(), brand(), AS_OF, 120.0, 0.4)
    empty = customer_row(context(orders=[]), brand(), AS_OF, 120.0, 0.4)

    assert row is not None
    assert row["tenure_days"] == pytest.approx(8.0)
    assert row["country"] == "United Kingdom"
    assert empty is None


def test_section_names_flagged_group(tmp_path: Path) -> None:
    markdown = fairness_section(tmp_path, frame=customers(country_bonus=0.5))

    assert "### Country" in markdown
    assert "Flagged: Germany, United Kingdom." in markdown
    assert "| Germany |" in markdown
    assert "![fairness-country](fairness-country.png)" in markdown
    assert (tmp_path / "fairness-country.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "fairness-tenure-band.png").is_file()


def test_section_without_signals_says_so(tmp_path: Path) -> None:
    frame = customers().head(0)

    body, charts = build_fairness(tmp_path, frame=frame)

    assert "aftercare signals refresh" in body
    assert charts == []


def test_stored_signals_feed_check(extract_db: ExtractDatabase, tmp_path: Path) -> None:
    engine = extract_db.engine()
    profile = brand()
    as_of = extract_db.as_of
    try:
        frame = load_fairness_inputs(engine, profile, as_of)
        body, _ = build_fairness(tmp_path, engine=engine, brand=profile, as_of=as_of)
        sample_id = frame["customer_id"].iloc[0]
        context_ = ContextStore(engine).load(sample_id, as_of=as_of, brand=profile)
    finally:
        engine.dispose()

    assert len(frame) > 100
    assert frame["churn_risk"].between(0, 1).all()
    assert (frame["predicted_value"] >= 0).all()
    assert frame.loc[0, "offer"] == allowed_offer_for(context_, profile)
    first_order = min(o.placed_at for o in context_.orders if o.status.value != "cancelled")
    assert frame.loc[0, "tenure_days"] == pytest.approx((as_of - first_order) / timedelta(days=1))
    assert "### Country" in body
    assert "### Tenure band" in body


def test_report_sections_plug_in(extract_db: ExtractDatabase, tmp_path: Path) -> None:
    engine = extract_db.engine()
    profile = brand()
    sections = [
        *DEFAULT_SECTIONS,
        community_report_section(engine),
        fairness_report_section(engine, profile),
    ]
    try:
        result = write_report(
            engine, profile.brand_id, extract_db.as_of, tmp_path / "report", sections=sections
        )
    finally:
        engine.dispose()

    text = result.path.read_text(encoding="utf-8")
    assert "## Community insights" in text
    assert "No review or ticket text is stored up to as_of." in text
    assert "## Fairness of offers and challenges" in text
    assert "![fairness-tenure-band](fairness-tenure-band.png)" in text
    assert (tmp_path / "report" / "fairness-tenure-band.png").is_file()
