"""The customer's time zone: from their record, else from their country, else the brand's.

A country that spans several time zones maps to a tuple of zones. The first is the zone where
most of its people live, used for display. Quiet hours hold a message while any of the
listed zones is inside them, so a customer known only by country is not messaged at night in
any part of it. The tuples list the populated mainland's zones: a customer in Alaska, Hawaii
or an overseas territory needs `timezone` on their record.

A country that is missing from the table, or that names no place ("Unspecified"), falls back
to the brand's own zone.
"""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.domain import BrandProfile, CustomerContext

# Country names as the UCI Online Retail data writes them, plus common aliases.
COUNTRY_ZONES: dict[str, tuple[str, ...]] = {
    "australia": ("Australia/Sydney", "Australia/Adelaide", "Australia/Perth"),
    "austria": ("Europe/Vienna",),
    "bahrain": ("Asia/Bahrain",),
    "belgium": ("Europe/Brussels",),
    "brazil": ("America/Sao_Paulo", "America/Manaus", "America/Rio_Branco"),
    "canada": (
        "America/Toronto",
        "America/St_Johns",
        "America/Halifax",
        "America/Winnipeg",
        "America/Edmonton",
        "America/Vancouver",
    ),
    "channel islands": ("Europe/Jersey",),
    "cyprus": ("Asia/Nicosia",),
    "czech republic": ("Europe/Prague",),
    "denmark": ("Europe/Copenhagen",),
    "eire": ("Europe/Dublin",),
    # The European Community of the data spans Lisbon (UTC+0) to Helsinki (UTC+2).
    "european community": ("Europe/Brussels", "Europe/Lisbon", "Europe/Helsinki"),
    "finland": ("Europe/Helsinki",),
    "france": ("Europe/Paris",),
    "germany": ("Europe/Berlin",),
    "greece": ("Europe/Athens",),
    "hong kong": ("Asia/Hong_Kong",),
    "iceland": ("Atlantic/Reykjavik",),
    "israel": ("Asia/Jerusalem",),
    "italy": ("Europe/Rome",),
    "japan": ("Asia/Tokyo",),
    "lebanon": ("Asia/Beirut",),
    "lithuania": ("Europe/Vilnius",),
    "malta": ("Europe/Malta",),
    "netherlands": ("Europe/Amsterdam",),
    "norway": ("Europe/Oslo",),
    "poland": ("Europe/Warsaw",),
    "portugal": ("Europe/Lisbon", "Atlantic/Azores"),
    "rsa": ("Africa/Johannesburg",),
    "saudi arabia": ("Asia/Riyadh",),
    "singapore": ("Asia/Singapore",),
    "spain": ("Europe/Madrid", "Atlantic/Canary"),
    "sweden": ("Europe/Stockholm",),
    "switzerland": ("Europe/Zurich",),
    "united arab emirates": ("Asia/Dubai",),
    "united kingdom": ("Europe/London",),
    "usa": ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
    "unspecified": (),
}
COUNTRY_ALIASES: dict[str, str] = {
    "czechia": "czech republic",
    "great britain": "united kingdom",
    "ireland": "eire",
    "south africa": "rsa",
    "uae": "united arab emirates",
    "uk": "united kingdom",
    "united states": "usa",
    "united states of america": "usa",
    "us": "usa",
}


class InvalidTimeZone(ValueError):
    """A customer's record names a time zone that the IANA database does not contain."""

    def __init__(self, customer_id: str, name: str) -> None:
        self.customer_id = customer_id
        self.name = name
        super().__init__(
            f"customer `{customer_id}` has the time zone {name!r}, which is not an IANA time "
            "zone; correct the customer record to a name such as 'Europe/London', or clear "
            "it to use the customer's country"
        )


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def country_zones(country: str | None) -> tuple[ZoneInfo, ...]:
    """Return the zones of a country, most populous first, or () when the country is unknown."""
    key = " ".join((country or "").casefold().split())
    names = COUNTRY_ZONES.get(COUNTRY_ALIASES.get(key, key), ())
    return tuple(zone(name) for name in names)


def customer_zones(context: CustomerContext, brand: BrandProfile) -> tuple[ZoneInfo, ...]:
    """Return every zone the customer may be in, the one to display first.

    Raises InvalidTimeZone when the record's `timezone` is not an IANA name.
    """
    if context.timezone:
        try:
            return (zone(context.timezone),)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidTimeZone(context.customer_id, context.timezone) from exc
    return country_zones(context.country) or (zone(brand.timezone),)


def customer_zone(context: CustomerContext, brand: BrandProfile) -> ZoneInfo:
    """Return the customer's time zone: the record's, else the country's main one, else the
    brand's."""
    return customer_zones(context, brand)[0]
