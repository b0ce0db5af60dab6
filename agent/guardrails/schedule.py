"""When a message may be sent: the brand's quiet hours and frequency caps.

Both hold a message back rather than block it: `next_send_time` returns the earliest moment
the message may go, with a warning for each rule that moved it. Quiet hours are wall-clock
hours in the customer's time zone, so a send time stays correct across daylight-saving
changes. Frequency caps count the messages in `context.messages_sent` of the same channel
and message class.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from agent.domain import (
    KIND_CLASS,
    BrandProfile,
    Channel,
    CustomerContext,
    Finding,
    FrequencyCap,
    MessageClass,
    MessageKind,
    QuietHours,
    Severity,
)
from agent.guardrails.zones import customer_zone, customer_zones

__all__ = ["SendDecision", "NoSendTime", "customer_zone", "next_send_time", "quiet_hours_for"]

# The maximum number of quiet-hour windows one search steps through before it gives up.
# Each step ends one window in one zone, so a few days of windows in every zone of a
# country fit easily.
MAX_QUIET_STEPS = 64


@dataclass(frozen=True)
class SendDecision:
    """The earliest time a message may be sent, and why it is later than requested."""

    # In UTC, and equal to the requested time when the message may go at once.
    send_at: datetime
    # compliance.quiet_hours and compliance.frequency_cap warnings, in that order of cause.
    findings: tuple[Finding, ...] = ()


class NoSendTime(ValueError):
    """The quiet hours of a customer's zones leave no time of day to send in."""


def next_send_time(
    context: CustomerContext,
    brand: BrandProfile,
    kind: MessageKind,
    channel: Channel,
    as_of: datetime,
) -> SendDecision:
    """Return the earliest moment from `as_of` at which this message may be sent.

    The frequency caps for the channel and the kind's message class go first, then the quiet
    hours move the result out of the night in every zone the customer may be in.
    Raises ValueError for a naive `as_of`, InvalidTimeZone for a record's unknown zone, and
    NoSendTime when quiet hours cover the whole day.
    """
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError(
            f"`as_of` {as_of.isoformat()} has no time zone. Pass an aware datetime, such as "
            "datetime.now(UTC)"
        )
    as_of = as_of.astimezone(UTC)
    zones = customer_zones(context, brand)
    message_class = KIND_CLASS[kind]
    findings: list[Finding] = []

    capped_until = as_of
    for cap in _caps_for(brand, channel, message_class):
        release = _cap_release(context, cap, as_of)
        if release is not None:
            capped_until = max(capped_until, release)
            findings.append(_cap_finding(cap, as_of, release, zones[0]))

    quiet = quiet_hours_for(brand, channel, message_class)
    send_at = capped_until
    if quiet is not None:
        send_at = _after_quiet_hours(capped_until, zones, quiet)
        if send_at > capped_until:
            findings.append(_quiet_finding(quiet, capped_until, send_at, zones))
    return SendDecision(send_at=send_at, findings=tuple(findings))


# --- frequency caps -------------------------------------------------------------------------


def _caps_for(
    brand: BrandProfile, channel: Channel, message_class: MessageClass
) -> list[FrequencyCap]:
    return [
        cap
        for cap in brand.frequency_caps
        if cap.channel is channel and cap.message_class is message_class
    ]


def _cap_release(context: CustomerContext, cap: FrequencyCap, as_of: datetime) -> datetime | None:
    """Return when the cap lets the next message go, or None when it may go at `as_of`.

    A message sent exactly `window_hours` before a moment no longer counts at that moment.
    NOTE: only messages sent at or before `as_of` count, so one recorded later is ignored.
    """
    window = timedelta(hours=cap.window_hours)
    recent = sorted(
        (
            message.sent_at
            for message in context.messages_sent
            if message.channel is cap.channel
            and KIND_CLASS[message.kind] is cap.message_class
            and message.sent_at <= as_of
            and as_of - message.sent_at < window
        ),
        reverse=True,
    )
    if len(recent) < cap.max_messages:
        return None
    # The cap frees a place when the max_messages-th most recent message leaves the window.
    return (recent[cap.max_messages - 1] + window).astimezone(UTC)


def _cap_finding(
    cap: FrequencyCap, as_of: datetime, release: datetime, display_zone: ZoneInfo
) -> Finding:
    traffic = f"{cap.message_class.value} {cap.channel.value}"
    limit = f"{cap.max_messages} per {cap.window_hours:g} hours"
    return Finding(
        check_id="compliance.frequency_cap",
        severity=Severity.WARN,
        message=f"The customer already received the brand's limit of {traffic} messages "
        f"({limit}) before {_local(as_of, display_zone)}. The next allowed send time is "
        f"{_local(release, display_zone)} ({_utc(release)}).",
        suggestion=f"Schedule the message for {_utc(release)} or later.",
    )


# --- quiet hours ----------------------------------------------------------------------------


def quiet_hours_for(
    brand: BrandProfile, channel: Channel, message_class: MessageClass
) -> QuietHours | None:
    """Return the quiet hours that hold this channel and class, or None when none do.

    A channel listed in `channel_quiet_hours` uses its entry there, which may be null.
    """
    quiet = brand.channel_quiet_hours.get(channel, brand.quiet_hours)
    if quiet is None:
        return None
    if message_class is MessageClass.TRANSACTIONAL and not quiet.transactional:
        return None
    return quiet


def is_quiet(moment: datetime, zone: ZoneInfo, quiet: QuietHours) -> bool:
    """Return True when the wall-clock time at `moment` in `zone` lies in the quiet hours."""
    wall = moment.astimezone(zone).time().replace(tzinfo=None)
    if quiet.start < quiet.end:
        return quiet.start <= wall < quiet.end
    return wall >= quiet.start or wall < quiet.end


def _after_quiet_hours(
    moment: datetime, zones: tuple[ZoneInfo, ...], quiet: QuietHours
) -> datetime:
    """Return the first moment from `moment` that lies outside the quiet hours in every zone."""
    for _ in range(MAX_QUIET_STEPS):
        waiting = [zone for zone in zones if is_quiet(moment, zone, quiet)]
        if not waiting:
            return moment
        moment = max(_quiet_end(moment, zone, quiet) for zone in waiting)
    names = ", ".join(zone.key for zone in zones)
    raise NoSendTime(
        f"the quiet hours {_window(quiet)} in the zones {names} leave no time of day to "
        "send; shorten the brand's quiet hours or set the customer's own time zone"
    )


def _quiet_end(moment: datetime, zone: ZoneInfo, quiet: QuietHours) -> datetime:
    """Return the first moment after `moment` at which the wall clock in `zone` shows
    quiet.end."""
    local = moment.astimezone(zone).replace(tzinfo=None)
    end_day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        end_day += timedelta(days=1)
    return _first_moment_at(datetime.combine(end_day, quiet.end), zone, moment)


def _first_moment_at(wall: datetime, zone: ZoneInfo, after: datetime) -> datetime:
    """Return the first UTC moment later than `after` at which the wall clock in `zone`
    shows `wall`, or the moment it jumps past `wall`.

    A wall-clock time that occurs twice (clocks going back) gives its first occurrence later
    than `after`. One that never occurs (clocks going forward) gives the moment of the change.
    """
    earlier = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    later = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    for candidate in sorted((earlier, later)):
        if candidate > after and candidate.astimezone(zone).replace(tzinfo=None) == wall:
            return candidate
    # `wall` falls in a gap: search the whole seconds between its two readings for the
    # change, which the tz database always puts on a whole second.
    low, high = int(min(earlier, later).timestamp()), int(max(earlier, later).timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _quiet_finding(
    quiet: QuietHours, moment: datetime, send_at: datetime, zones: tuple[ZoneInfo, ...]
) -> Finding:
    waiting = [zone for zone in zones if is_quiet(moment, zone, quiet)] or [zones[0]]
    local_now = ", ".join(_local(moment, zone) for zone in waiting)
    local_next = ", ".join(_local(send_at, zone) for zone in waiting)
    return Finding(
        check_id="compliance.quiet_hours",
        severity=Severity.WARN,
        message=f"It is {local_now} for the customer, inside the brand's quiet hours "
        f"{_window(quiet)}. The next allowed send time is {local_next} ({_utc(send_at)}).",
        suggestion=f"Schedule the message for {_utc(send_at)} or later.",
    )


# --- formatting -----------------------------------------------------------------------------


def _local(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({zone.key})"


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _window(quiet: QuietHours) -> str:
    return f"{quiet.start:%H:%M}-{quiet.end:%H:%M}"
