from __future__ import annotations

import csv
import gzip
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from agent.domain import (
    Channel,
    FrequencyCap,
    MessageClass,
    MessageKind,
    QuietHours,
    SentMessage,
    Severity,
)
from agent.guardrails.schedule import NoSendTime, customer_zone, next_send_time
from agent.guardrails.zones import COUNTRY_ZONES, InvalidTimeZone, customer_zones
from tests.guardrails.factories import ids, make_brand, make_context

WINBACK = MessageKind.WINBACK
EMAIL = Channel.EMAIL
SMS = Channel.SMS

# Countries as the UCI Online Retail data writes them.
ONLINE_RETAIL_COUNTRIES = [
    "United Kingdom", "France", "Germany", "EIRE", "Spain", "Netherlands", "Belgium",
    "Switzerland", "Portugal", "Australia", "Norway", "Italy", "Channel Islands", "Finland",
    "Cyprus", "Sweden", "Austria", "Denmark", "Japan", "Poland", "USA", "Israel", "Unspecified",
    "Singapore", "Iceland", "Canada", "Greece", "Malta", "United Arab Emirates",
    "European Community", "RSA", "Lebanon", "Lithuania", "Brazil", "Czech Republic",
    "Bahrain", "Saudi Arabia", "Hong Kong",
]  # fmt: skip


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def _decide(
    as_of: datetime,
    kind: MessageKind = WINBACK,
    channel: Channel = EMAIL,
    brand_overrides: dict | None = None,
    **context_overrides,
):
    context_overrides.setdefault("timezone", "Europe/London")
    context = make_context(**context_overrides)
    brand = make_brand(**(brand_overrides or {}))
    return next_send_time(context, brand, kind, channel, as_of)


def _sent(hours_ago: float, as_of: datetime, kind=WINBACK, channel=EMAIL) -> SentMessage:
    return SentMessage(kind=kind, channel=channel, sent_at=as_of - timedelta(hours=hours_ago))


# --- quiet hours ---------------------------------------------------------------------------


def test_daytime_send_goes_now() -> None:
    as_of = _utc(2011, 12, 20, 10, 0)
    decision = _decide(as_of)
    assert decision.send_at == as_of
    assert decision.findings == ()


def test_late_evening_waits_for_morning() -> None:
    decision = _decide(_utc(2011, 12, 20, 22, 30))
    assert decision.send_at == _utc(2011, 12, 21, 8, 0)
    assert ids(decision.findings) == ["compliance.quiet_hours"]
    finding = decision.findings[0]
    assert finding.severity is Severity.WARN
    assert "2011-12-20 22:30 GMT (Europe/London)" in finding.message
    assert "2011-12-21 08:00 GMT (Europe/London)" in finding.message
    assert "21:00-08:00" in finding.message
    assert "2011-12-21 08:00 UTC" in finding.suggestion


def test_send_at_is_utc() -> None:
    decision = _decide(_utc(2011, 12, 20, 22, 30), timezone="Asia/Tokyo")
    assert decision.send_at.utcoffset() == timedelta(0)
    assert decision.send_at == datetime(2011, 12, 21, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo"))


def test_summer_time_morning_in_utc() -> None:
    # 22:30 BST is 21:30 UTC; 08:00 BST the next day is 07:00 UTC.
    decision = _decide(_utc(2011, 7, 20, 21, 30))
    assert decision.send_at == _utc(2011, 7, 21, 7, 0)
    assert "22:30 BST" in decision.findings[0].message


@pytest.mark.parametrize(
    ("as_of", "quiet"),
    [
        (_utc(2011, 12, 20, 20, 59, 59), False),
        (_utc(2011, 12, 20, 21, 0), True),
        (_utc(2011, 12, 21, 7, 59, 59), True),
        (_utc(2011, 12, 21, 8, 0), False),
    ],
)
def test_quiet_hours_boundaries(as_of: datetime, quiet: bool) -> None:
    decision = _decide(as_of)
    assert (decision.send_at > as_of) is quiet


def test_early_morning_waits_same_day() -> None:
    decision = _decide(_utc(2011, 12, 21, 2, 0))
    assert decision.send_at == _utc(2011, 12, 21, 8, 0)


def test_london_spring_forward_night() -> None:
    # Clocks go from 01:00 GMT to 02:00 BST on 27 March 2011; 08:00 BST is 07:00 UTC.
    decision = _decide(_utc(2011, 3, 26, 23, 0))
    assert decision.send_at == _utc(2011, 3, 27, 7, 0)
    assert "23:00 GMT" in decision.findings[0].message
    assert "08:00 BST" in decision.findings[0].message


def test_london_fall_back_night() -> None:
    # Clocks go from 02:00 BST back to 01:00 GMT on 30 October 2011.
    decision = _decide(_utc(2011, 10, 29, 22, 0))
    assert decision.send_at == _utc(2011, 10, 30, 8, 0)
    assert "23:00 BST" in decision.findings[0].message
    assert "08:00 GMT" in decision.findings[0].message


@pytest.mark.parametrize(
    "as_of",
    [_utc(2011, 3, 13, 6, 30), _utc(2011, 3, 13, 7, 0), _utc(2011, 3, 13, 7, 30)],
    ids=["01:30 EST before the jump", "03:00 EDT at the jump", "03:30 EDT after it"],
)
def test_new_york_spring_forward(as_of: datetime) -> None:
    decision = _decide(as_of, timezone="America/New_York")
    assert decision.send_at == _utc(2011, 3, 13, 12, 0)


@pytest.mark.parametrize(
    "as_of",
    [_utc(2011, 11, 6, 5, 30), _utc(2011, 11, 6, 6, 30)],
    ids=["first 01:30 EDT", "second 01:30 EST"],
)
def test_new_york_fall_back(as_of: datetime) -> None:
    decision = _decide(as_of, timezone="America/New_York")
    assert decision.send_at == _utc(2011, 11, 6, 13, 0)


def test_quiet_end_at_missing_0200_is_clock_change() -> None:
    # 02:00 never shows on a New York clock on 13 March 2011: it jumps to 03:00 EDT.
    brand = {"quiet_hours": QuietHours(start=time(22, 0), end=time(2, 0))}
    decision = _decide(_utc(2011, 3, 13, 5, 0), timezone="America/New_York", brand_overrides=brand)
    assert decision.send_at == _utc(2011, 3, 13, 7, 0)


def test_quiet_end_at_repeated_time_takes_first() -> None:
    # 01:30 shows twice on 6 November 2011 in New York: 05:30 UTC (EDT) and 06:30 UTC (EST).
    brand = {"quiet_hours": QuietHours(start=time(22, 0), end=time(1, 30))}
    first = _decide(_utc(2011, 11, 6, 5, 10), timezone="America/New_York", brand_overrides=brand)
    second = _decide(_utc(2011, 11, 6, 6, 10), timezone="America/New_York", brand_overrides=brand)
    assert first.send_at == _utc(2011, 11, 6, 5, 30)
    assert second.send_at == _utc(2011, 11, 6, 6, 30)


def test_daytime_quiet_window() -> None:
    brand = {"quiet_hours": QuietHours(start=time(12, 0), end=time(14, 0))}
    decision = _decide(_utc(2011, 12, 20, 12, 30), brand_overrides=brand)
    assert decision.send_at == _utc(2011, 12, 20, 14, 0)


def test_transactional_ignores_quiet_hours_by_default() -> None:
    as_of = _utc(2011, 12, 20, 23, 0)
    decision = _decide(as_of, kind=MessageKind.ORDER_FOLLOWUP)
    assert decision.send_at == as_of
    assert decision.findings == ()


def test_transactional_quiet_hours_when_configured() -> None:
    brand = {"quiet_hours": QuietHours(transactional=True)}
    decision = _decide(
        _utc(2011, 12, 20, 23, 0), kind=MessageKind.ORDER_FOLLOWUP, brand_overrides=brand
    )
    assert decision.send_at == _utc(2011, 12, 21, 8, 0)


def test_channel_quiet_hours_replace_default() -> None:
    brand = {"channel_quiet_hours": {SMS: QuietHours(start=time(20, 0), end=time(9, 0))}}
    sms = _decide(_utc(2011, 12, 20, 20, 30), channel=SMS, brand_overrides=brand)
    email = _decide(_utc(2011, 12, 20, 20, 30), channel=EMAIL, brand_overrides=brand)
    assert sms.send_at == _utc(2011, 12, 21, 9, 0)
    assert email.send_at == _utc(2011, 12, 20, 20, 30)


def test_channel_quiet_hours_null_turns_off() -> None:
    as_of = _utc(2011, 12, 20, 23, 0)
    decision = _decide(as_of, channel=SMS, brand_overrides={"channel_quiet_hours": {SMS: None}})
    assert decision.send_at == as_of


def test_no_quiet_hours_when_brand_sets_null() -> None:
    as_of = _utc(2011, 12, 20, 23, 0)
    assert _decide(as_of, brand_overrides={"quiet_hours": None}).send_at == as_of


def test_quiet_hours_reject_unquoted_yaml_time() -> None:
    with pytest.raises(ValidationError, match="Quote the time in YAML"):
        QuietHours(start=1260)


def test_quiet_hours_reject_empty_window() -> None:
    with pytest.raises(ValidationError, match="null to turn them off"):
        QuietHours(start=time(8, 0), end=time(8, 0))


# --- time zones ----------------------------------------------------------------------------


def test_record_time_zone_wins_over_country() -> None:
    context = make_context(country="France", timezone="America/Chicago")
    assert customer_zone(context, make_brand()) == ZoneInfo("America/Chicago")


def test_country_gives_zone() -> None:
    context = make_context(country="France", timezone=None)
    assert customer_zone(context, make_brand()) == ZoneInfo("Europe/Paris")


@pytest.mark.parametrize("country", ["Unspecified", "Atlantis", None, ""])
def test_unknown_country_uses_brand_zone(country: str | None) -> None:
    context = make_context(country=country, timezone=None)
    brand = make_brand(timezone="Europe/Dublin")
    assert customer_zone(context, brand) == ZoneInfo("Europe/Dublin")


@pytest.mark.parametrize(
    ("alias", "zone"),
    [
        ("united states", "America/New_York"),
        ("UK", "Europe/London"),
        ("  south   Africa ", "Africa/Johannesburg"),
    ],
)
def test_country_aliases_and_spacing(alias: str, zone: str) -> None:
    context = make_context(country=alias, timezone=None)
    assert customer_zone(context, make_brand()) == ZoneInfo(zone)


def test_invalid_record_zone_raises() -> None:
    context = make_context(timezone="Mars/Olympus")
    with pytest.raises(InvalidTimeZone, match="'Mars/Olympus'.*not an IANA time zone"):
        customer_zone(context, make_brand())


@pytest.mark.parametrize("country", ONLINE_RETAIL_COUNTRIES)
def test_online_retail_country_mapped(country: str) -> None:
    assert country.casefold() in COUNTRY_ZONES
    for name in COUNTRY_ZONES[country.casefold()]:
        ZoneInfo(name)


def test_every_country_in_data_mapped(shared_data_dir: Path) -> None:
    path = shared_data_dir / "online_retail_2010_2011.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        countries = {row["Country"] for row in csv.DictReader(handle)}
    missing = sorted(c for c in countries if c.casefold() not in COUNTRY_ZONES)
    assert missing == []


def test_multi_zone_country_lists_every_zone() -> None:
    context = make_context(country="USA", timezone=None)
    zones = [zone.key for zone in customer_zones(context, make_brand())]
    assert zones[0] == "America/New_York"
    assert "America/Los_Angeles" in zones


def test_multi_zone_country_waits_for_west() -> None:
    # 13:30 UTC is 08:30 in New York but 05:30 in Los Angeles; 08:00 there is 16:00 UTC.
    decision = _decide(_utc(2011, 12, 20, 13, 30), country="USA", timezone=None)
    assert decision.send_at == _utc(2011, 12, 20, 16, 0)
    message = decision.findings[0].message
    assert "America/Los_Angeles" in message
    assert "05:30 PST" in message


def test_multi_zone_country_stops_in_east() -> None:
    # 02:30 UTC is 21:30 in New York, already quiet, though 18:30 in Los Angeles.
    decision = _decide(_utc(2011, 12, 21, 2, 30), country="USA", timezone=None)
    assert decision.send_at == _utc(2011, 12, 21, 16, 0)


def test_quiet_hours_covering_whole_day_raise() -> None:
    brand = {"quiet_hours": QuietHours(start=time(9, 0), end=time(8, 0))}
    with pytest.raises(NoSendTime, match="leave no time of day"):
        _decide(_utc(2011, 12, 20, 12, 0), country="USA", timezone=None, brand_overrides=brand)


def test_naive_as_of_raises() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        _decide(datetime(2011, 12, 20, 10, 0))


# --- frequency caps ------------------------------------------------------------------------


def test_email_cap_holds_for_16_hours() -> None:
    as_of = _utc(2011, 12, 20, 10, 0)
    decision = _decide(as_of, messages_sent=[_sent(10, as_of)])
    assert decision.send_at == _utc(2011, 12, 20, 16, 0)
    assert ids(decision.findings) == ["compliance.frequency_cap"]
    finding = decision.findings[0]
    assert finding.severity is Severity.WARN
    assert "1 per 16 hours" in finding.message
    assert "2011-12-20 16:00 GMT (Europe/London)" in finding.message


@pytest.mark.parametrize(
    ("hours_ago", "capped"),
    [(15.999, True), (16, False), (16.001, False)],
)
def test_email_cap_boundary(hours_ago: float, capped: bool) -> None:
    as_of = _utc(2011, 12, 20, 10, 0)
    decision = _decide(as_of, messages_sent=[_sent(hours_ago, as_of)])
    assert (decision.send_at > as_of) is capped


@pytest.mark.parametrize(("hours_ago", "capped"), [(23.99, True), (24, False)])
def test_sms_cap_is_24_hours(hours_ago: float, capped: bool) -> None:
    as_of = _utc(2011, 12, 20, 10, 0)
    sent = [_sent(hours_ago, as_of, channel=SMS)]
    decision = _decide(as_of, channel=SMS, messages_sent=sent)
    assert (decision.send_at > as_of) is capped


def test_cap_counts_only_same_channel_and_class() -> None:
    as_of = _utc(2011, 12, 20, 10, 0)
    sent = [
        _sent(1, as_of, channel=SMS),
        _sent(1, as_of, kind=MessageKind.ORDER_FOLLOWUP, channel=EMAIL),
    ]
    assert _decide(as_of, messages_sent=sent).send_at == as_of


def test_cap_counts_any_marketing_kind() -> None:
    as_of = _utc(2011, 12, 20, 10, 0)
    sent = [_sent(1, as_of, kind=MessageKind.REVIEW_REQUEST)]
    decision = _decide(as_of, messages_sent=sent)
    assert "compliance.frequency_cap" in ids(decision.findings)
    assert decision.send_at > as_of


def test_cap_ignores_messages_after_as_of() -> None:
    as_of = _utc(2011, 12, 20, 10, 0)
    assert _decide(as_of, messages_sent=[_sent(-1, as_of)]).send_at == as_of


def test_cap_with_several_messages_allowed() -> None:
    as_of = _utc(2011, 12, 20, 10, 0)
    brand = {
        "frequency_caps": [FrequencyCap(channel=EMAIL, max_messages=2, window_hours=24)],
        "quiet_hours": None,
    }
    one = _decide(as_of, messages_sent=[_sent(2, as_of)], brand_overrides=brand)
    two = _decide(as_of, messages_sent=[_sent(2, as_of), _sent(5, as_of)], brand_overrides=brand)
    assert one.send_at == as_of
    # The older of the two leaves the window 24 hours after it was sent.
    assert two.send_at == _utc(2011, 12, 21, 5, 0)
    assert "2 per 24 hours" in two.findings[0].message


def test_transactional_cap_when_configured() -> None:
    as_of = _utc(2011, 12, 20, 10, 0)
    caps = [FrequencyCap(channel=EMAIL, message_class=MessageClass.TRANSACTIONAL, window_hours=1)]
    sent = [_sent(0.5, as_of, kind=MessageKind.USAGE_TIP)]
    decision = _decide(
        as_of,
        kind=MessageKind.ORDER_FOLLOWUP,
        messages_sent=sent,
        brand_overrides={"frequency_caps": caps},
    )
    assert decision.send_at == _utc(2011, 12, 20, 10, 30)


def test_no_caps_when_brand_lists_none() -> None:
    as_of = _utc(2011, 12, 20, 10, 0)
    decision = _decide(
        as_of, messages_sent=[_sent(1, as_of)], brand_overrides={"frequency_caps": []}
    )
    assert decision.send_at == as_of


# --- both together -------------------------------------------------------------------------


def test_cap_release_in_quiet_hours_waits_for_morning() -> None:
    # The cap frees the customer at 22:00, inside quiet hours, so the message waits to 08:00.
    as_of = _utc(2011, 12, 20, 10, 0)
    decision = _decide(as_of, messages_sent=[_sent(4, as_of)])
    assert decision.send_at == _utc(2011, 12, 21, 8, 0)
    assert ids(decision.findings) == ["compliance.frequency_cap", "compliance.quiet_hours"]
    assert "2011-12-20 22:00 GMT" in decision.findings[1].message


def test_cap_release_outside_quiet_hours() -> None:
    as_of = _utc(2011, 12, 20, 23, 0)
    decision = _decide(as_of, messages_sent=[_sent(6, as_of)])
    assert decision.send_at == _utc(2011, 12, 21, 9, 0)
    assert ids(decision.findings) == ["compliance.frequency_cap"]


def test_quiet_and_cap_across_dst_change() -> None:
    # An SMS at 20:00 BST on 29 October 2011 caps SMS for 24 hours, until 19:00 GMT on the
    # 30th by the changed clock, which is before quiet hours begin at 21:00 GMT.
    as_of = _utc(2011, 10, 29, 22, 0)
    sent = [SentMessage(kind=WINBACK, channel=SMS, sent_at=_utc(2011, 10, 29, 19, 0))]
    decision = _decide(as_of, channel=SMS, messages_sent=sent)
    assert decision.send_at == _utc(2011, 10, 30, 19, 0)
    assert ids(decision.findings) == ["compliance.frequency_cap"]
