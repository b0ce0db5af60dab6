"""Estimate delivery dates from the brand's delivery policy when no carrier event exists."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from agent.domain import BrandProfile

SATURDAY = 5


def _next_working_day(day: datetime) -> datetime:
    day += timedelta(days=1)
    while day.weekday() >= SATURDAY:
        day += timedelta(days=1)
    return day


def dispatch_day(placed_at: datetime, brand: BrandProfile) -> datetime:
    """Return the local start of the day an order ships: the same working day before the
    cut-off hour, otherwise the next working day."""
    local = placed_at.astimezone(ZoneInfo(brand.timezone))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if local.weekday() >= SATURDAY or local.hour >= brand.dispatch_cutoff_hour:
        return _next_working_day(day)
    return day


def estimate_delivery(placed_at: datetime, brand: BrandProfile, country: str | None) -> datetime:
    """Estimate when an order arrives: working days after dispatch, per the brand's policy.

    Orders to a country other than the brand's home country use international_delivery_days
    when the brand sets it. Public holidays are not skipped, so an estimate over a bank
    holiday is a day early.
    """
    days = brand.delivery_days
    if country and country != brand.home_country and brand.international_delivery_days:
        days = brand.international_delivery_days
    day = dispatch_day(placed_at, brand)
    for _ in range(days):
        day = _next_working_day(day)
    return day.replace(hour=18)
