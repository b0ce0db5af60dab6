"""Field types shared by the API's request models and query parameters."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field

# Years a timestamp may fall in. Dates outside them mean a client bug, and near the ends of
# Python's datetime range a conversion to UTC overflows.
MIN_YEAR = 1900
MAX_YEAR = 2200
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def check_year(value: datetime) -> datetime:
    try:
        year = value.astimezone(UTC).year
    except OverflowError:
        year = value.year
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"must fall between the years {MIN_YEAR} and {MAX_YEAR}")
    return value


def require_iso_text(value: Any) -> Any:
    """Reject numbers, which pydantic would read as Unix times, where a date-time is due."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not ISO_DATE.match(value):
        raise ValueError(
            "must be an ISO 8601 date-time with a time zone, such as 2026-11-04T10:00:00Z"
        )
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(require_iso_text), AfterValidator(check_year)]
# Printable text without control characters, which PostgreSQL text cannot always store.
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE)]
ShortId = Annotated[str, Field(min_length=1, max_length=32, pattern=PRINTABLE)]
Text = Annotated[str, Field(pattern=r"^[^\x00]*$")]
# Lower-case words joined by hyphens, as brand folders and draft ids are named.
Slug = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
