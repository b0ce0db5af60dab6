"""Typed figures in message text (amounts, dates, order references, loyalty points), and the
facts from the customer's context that ground them."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from agent.context.delivery import estimate_delivery
from agent.guardrails.base import CheckInput
from agent.guardrails.zones import InvalidTimeZone, customer_zone

AMOUNT = "amount"
DATE = "date"
ORDER = "order reference"
POINTS = "loyalty balance"

_MONTH_NAMES = [
    ("january", "jan"),
    ("february", "feb"),
    ("march", "mar"),
    ("april", "apr"),
    ("may", "may"),
    ("june", "jun"),
    ("july", "jul"),
    ("august", "aug"),
    ("september", "sept", "sep"),
    ("october", "oct"),
    ("november", "nov"),
    ("december", "dec"),
]
MONTHS = {name: number for number, names in enumerate(_MONTH_NAMES, 1) for name in names}
_MONTH = "(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + ")"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_YEAR = r"\d{4}"

CURRENCY_WORDS = {
    "£": "GBP",
    "gbp": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "$": "USD",
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
}
_VALUE = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        AMOUNT,
        re.compile(
            rf"(?P<symbol>[£€$])\s?(?P<value>{_VALUE})"
            rf"|(?P<code>GBP|EUR|USD)\s?(?P<value2>{_VALUE})"
            rf"|(?P<value3>{_VALUE})\s?(?P<word>GBP|EUR|USD|pounds?|euros?|dollars?)(?!\w)",
            re.IGNORECASE,
        ),
    ),
    (
        DATE,
        re.compile(
            rf"(?<!\w)(?P<d1>{_DAY})\s+(?:of\s+)?(?P<m1>{_MONTH})(?:,?\s+(?P<y1>{_YEAR}))?(?!\w)"
            rf"|(?<!\w)(?P<m2>{_MONTH})\s+(?P<d2>{_DAY})(?:,?\s+(?P<y2>{_YEAR}))?(?!\w)"
            r"|(?<![\w/])(?P<iso>\d{4}-\d{2}-\d{2})(?!\w)"
            r"|(?<![\w/.])(?P<a>\d{1,2})(?P<sep>[/.])(?P<b>\d{1,2})(?P=sep)(?P<y3>\d{2}|\d{4})"
            r"(?![\w/]|\.\d)"
            r"|(?<![\w/])(?P<a2>\d{1,2})/(?P<b2>\d{1,2})(?![\w/])",
            re.IGNORECASE,
        ),
    ),
    (
        ORDER,
        re.compile(
            r"(?<!\w)(?:order|invoice|ref(?:erence)?)\s*(?:no\.?|number|num\.?)?\s*[:#]?\s*"
            r"(?P<ref>[A-Z]{0,3}\d[\w-]{3,})(?!\w)"
            r"|(?<![\w#])#(?P<hash>\w*\d\w*)",
            re.IGNORECASE,
        ),
    ),
    (
        POINTS,
        re.compile(
            r"(?<![\w.,])(?P<points>\d{1,3}(?:,\d{3})+|\d+)\s+(?:loyalty\s+|reward\s+|bonus\s+)?"
            r"points?(?!\w)",
            re.IGNORECASE,
        ),
    ),
]


@dataclass(frozen=True)
class Figure:
    """A typed figure in a text: its kind, the text as written, its offsets and its value."""

    kind: str
    text: str
    start: int
    end: int
    # Decimal and currency for an amount, (year or None, month, day) for a date, the
    # case-folded reference for an order, the integer for points. None when unreadable.
    value: object


@dataclass
class Facts:
    """Amounts, dates, order references and balances from the customer's context and the
    brand's policy, which ground the figures of a message."""

    amounts: set[tuple[str | None, Decimal]] = field(default_factory=set)
    dates: set[date] = field(default_factory=set)
    order_refs: set[str] = field(default_factory=set)
    points: set[int] = field(default_factory=set)


def find_figures(text: str, month_first: bool = False) -> list[Figure]:
    """Find the typed figures in `text`, the earliest and then longest first, none overlapping.

    `month_first` reads "4/12" as April 12 (en-US) instead of 4 December.
    """
    found = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            value = _value(kind, match, month_first)
            found.append(Figure(kind, match.group(), match.start(), match.end(), value))
    found.sort(key=lambda figure: (figure.start, figure.start - figure.end))
    figures: list[Figure] = []
    for figure in found:
        if figures and figure.start < figures[-1].end:
            continue
        figures.append(figure)
    return figures


def _value(kind: str, match: re.Match[str], month_first: bool) -> object:
    if kind == AMOUNT:
        return _amount_value(match)
    if kind == DATE:
        return _date_value(match, month_first)
    if kind == ORDER:
        return (match.group("ref") or match.group("hash")).casefold()
    return int(match.group("points").replace(",", ""))


def _amount_value(match: re.Match[str]) -> tuple[str | None, Decimal] | None:
    groups = match.groupdict()
    raw = groups["value"] or groups["value2"] or groups["value3"]
    unit = groups["symbol"] or groups["code"] or groups["word"] or ""
    try:
        amount = Decimal(raw.replace(",", ""))
    except InvalidOperation:
        return None
    return CURRENCY_WORDS.get(unit.casefold()), amount.quantize(Decimal("0.01"))


def _date_value(match: re.Match[str], month_first: bool) -> tuple[int | None, int, int] | None:
    groups = match.groupdict()
    if groups["iso"]:
        year, month, day = (int(part) for part in groups["iso"].split("-"))
        return year, month, day
    if groups["m1"] or groups["m2"]:
        month_name = (groups["m1"] or groups["m2"]).casefold()
        day = int(re.sub(r"\D", "", groups["d1"] or groups["d2"]))
        year = groups["y1"] or groups["y2"]
        return (int(year) if year else None), MONTHS[month_name], day
    first, second = int(groups["a"] or groups["a2"]), int(groups["b"] or groups["b2"])
    month, day = (first, second) if month_first else (second, first)
    year = groups["y3"]
    if year and len(year) == 2:
        year = f"20{year}"
    return (int(year) if year else None), month, day


# --- grounding ---------------------------------------------------------------------------


def gather_facts(inp: CheckInput) -> Facts:
    """Collect the amounts, dates, order references and loyalty points of the context, and the
    amounts of the allowed offer and the free-delivery threshold."""
    facts = Facts()
    zones = _zones(inp)
    for order in inp.context.orders:
        facts.order_refs.add(order.order_id.casefold())
        facts.amounts.add((order.currency, order.total.quantize(Decimal("0.01"))))
        for line in order.lines:
            facts.amounts.add((order.currency, line.unit_price.quantize(Decimal("0.01"))))
            line_total = (line.unit_price * line.quantity).quantize(Decimal("0.01"))
            facts.amounts.add((order.currency, line_total))
        moments = [order.placed_at, order.delivered_at]
        moments.append(estimate_delivery(order.placed_at, inp.brand, inp.context.country))
        facts.dates.update(_dates(moments, zones))
    facts.dates.update(_dates(_event_moments(inp), zones))
    _add_loyalty(inp, facts, zones)
    if inp.brand.free_delivery_threshold is not None:
        facts.amounts.add((None, inp.brand.free_delivery_threshold.quantize(Decimal("0.01"))))
    for figure in find_figures(inp.allowed_offer or ""):
        if figure.kind == AMOUNT and figure.value is not None:
            facts.amounts.add(figure.value)  # type: ignore[arg-type]
    return facts


def _add_loyalty(inp: CheckInput, facts: Facts, zones: list[ZoneInfo]) -> None:
    """Add the points figures and expiry dates of the customer's loyalty account."""
    account = inp.context.loyalty
    if account is None:
        return
    facts.points.update({account.balance, account.qualifying_points, account.expired_points})
    if account.points_to_next_tier is not None:
        facts.points.add(account.points_to_next_tier)
    facts.points.update(expiring.points for expiring in account.expiring)
    facts.points.update(reward.points_cost for reward in account.eligible_rewards)
    facts.dates.update(_dates([expiring.expires_at for expiring in account.expiring], zones))
    facts.dates.update(r.valid_until for r in account.eligible_rewards if r.valid_until)


def _zones(inp: CheckInput) -> list[ZoneInfo]:
    zones = [ZoneInfo("UTC"), ZoneInfo(inp.brand.timezone)]
    # The scheduler reports an invalid zone on the record; dates still match in these two.
    with contextlib.suppress(InvalidTimeZone):
        zones.append(customer_zone(inp.context, inp.brand))
    return zones


def _event_moments(inp: CheckInput) -> list[datetime | None]:
    context = inp.context
    moments: list[datetime | None] = [review.created_at for review in context.reviews]
    for ticket in context.tickets:
        moments += [ticket.opened_at, ticket.closed_at]
    moments += [product_return.created_at for product_return in context.returns]
    return moments


def _dates(moments: list[datetime | None], zones: list[ZoneInfo]) -> set[date]:
    return {moment.astimezone(zone).date() for moment in moments if moment for zone in zones}


def is_grounded(figure: Figure, facts: Facts) -> bool:
    """Return True when the context or the allowed offer contains the figure's value."""
    value = figure.value
    if value is None:
        return False
    if figure.kind == AMOUNT:
        currency, amount = value  # type: ignore[misc]
        return any(
            amount == known and (currency is None or known_currency in (None, currency))
            for known_currency, known in facts.amounts
        )
    if figure.kind == DATE:
        year, month, day = value  # type: ignore[misc]
        return any(
            (known.month, known.day) == (month, day) and year in (None, known.year)
            for known in facts.dates
        )
    if figure.kind == ORDER:
        return value in facts.order_refs
    return value in facts.points
