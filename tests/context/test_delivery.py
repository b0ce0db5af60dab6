from datetime import UTC, datetime

import pytest

from agent.config import Settings
from agent.context.delivery import dispatch_day, estimate_delivery
from agent.knowledge.brand import load_brand


@pytest.fixture
def brand():
    settings = Settings()
    return load_brand(settings.kb_dir, settings.default_brand)


def test_before_cutoff_ships_same_day(brand) -> None:
    placed = datetime(2011, 12, 8, 9, 0, tzinfo=UTC)  # a Thursday
    assert dispatch_day(placed, brand).day == 8


def test_after_cutoff_ships_next_day(brand) -> None:
    placed = datetime(2011, 12, 8, 17, 54, tzinfo=UTC)
    assert dispatch_day(placed, brand).day == 9


def test_weekend_order_ships_monday(brand) -> None:
    placed = datetime(2011, 12, 10, 9, 0, tzinfo=UTC)  # a Saturday
    assert dispatch_day(placed, brand).weekday() == 0


def test_estimate_skips_weekend(brand) -> None:
    placed = datetime(2011, 12, 8, 17, 54, tzinfo=UTC)  # ships Friday
    assert estimate_delivery(placed, brand, "United Kingdom").date().isoformat() == "2011-12-14"


def test_international_takes_longer(brand) -> None:
    placed = datetime(2011, 12, 1, 10, 0, tzinfo=UTC)
    home = estimate_delivery(placed, brand, "United Kingdom")
    abroad = estimate_delivery(placed, brand, "France")
    assert abroad > home


def test_estimate_uses_brand_time_zone(brand) -> None:
    # 12:30 UTC in June is 13:30 in London, after the 13:00 cut-off.
    placed = datetime(2011, 6, 9, 12, 30, tzinfo=UTC)
    assert dispatch_day(placed, brand).day == 10
