"""Purchase histories for the CLV models: cleaning, the per-customer summary and the loader.

A transactions table is a pandas DataFrame with the columns `customer_id`, `date` and
`amount`, one row per order (other columns are ignored). A purchase is one customer-day:
several orders on the same calendar day (UTC) count as one purchase whose amount is their
sum. Fader, Hardie and Lee counted the CDNOW transactions the same way, which is why the
published CDNOW summary has 2,457 repeat purchases.

The summary has one row per customer with

- `frequency`: repeat purchases, the purchase days after the first one;
- `recency`: time from the first to the last purchase day;
- `T`: time from the first purchase day to the `as_of` day;
- `monetary_value`: mean amount of the repeat purchases, 0 for a one-time buyer (the
  Gamma-Gamma model's input);
- `mean_spend`: mean amount over every purchase, the first one included;
- `first_purchase`, `last_purchase`: the purchase days, as naive UTC dates.

`recency` and `T` are in units of `unit_days` days (1 for days, 7 for weeks).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Float, cast, func, select

from agent.context.tables import OrderLineRecord, OrderRecord

logger = logging.getLogger(__name__)

TRANSACTION_COLUMNS = ("customer_id", "date", "amount")
SUMMARY_COLUMNS = (
    "customer_id",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "mean_spend",
    "first_purchase",
    "last_purchase",
)


@dataclass
class CleanTransactions:
    """Valid purchases at or before the cutoff, one row per customer-day, and what was dropped.

    `purchases` has the columns customer_id (str), day (naive UTC midnight) and amount.
    """

    purchases: pd.DataFrame
    cutoff_day: pd.Timestamp
    notes: list[str] = field(default_factory=list)


def cutoff_of(as_of: date | datetime) -> pd.Timestamp:
    """Return the last moment that counts, as a UTC timestamp.

    A `date` means the end of that day in UTC. A naive datetime is read as UTC.
    """
    if not isinstance(as_of, datetime):
        as_of = datetime.combine(as_of, time.max)
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        as_of = as_of.replace(tzinfo=UTC)
    return pd.Timestamp(as_of).tz_convert("UTC")


def clean_transactions(transactions: pd.DataFrame, as_of: date | datetime) -> CleanTransactions:
    """Drop invalid and future rows with a note for each problem, then group by customer-day.

    Raises ValueError when a column of `TRANSACTION_COLUMNS` is missing.
    """
    missing = [name for name in TRANSACTION_COLUMNS if name not in transactions.columns]
    if missing:
        raise ValueError(
            f"the transactions table lacks the columns {missing}; expected "
            f"{list(TRANSACTION_COLUMNS)} with one row per order"
        )
    cutoff = cutoff_of(as_of)
    cutoff_day = cutoff.tz_localize(None).floor("D")
    notes: list[str] = []
    frame = pd.DataFrame(
        {
            "customer_id": transactions["customer_id"],
            "date": pd.to_datetime(transactions["date"], utc=True, errors="coerce"),
            "amount": pd.to_numeric(transactions["amount"], errors="coerce"),
        }
    )
    frame = _drop_invalid(frame, notes)
    frame = _drop_future(frame, cutoff, notes)
    purchases = _group_by_day(frame)
    return CleanTransactions(purchases=purchases, cutoff_day=cutoff_day, notes=notes)


def _note(notes: list[str], message: str) -> None:
    logger.warning("%s", message)
    notes.append(message)


def _drop_invalid(frame: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    missing_id = frame["customer_id"].isna() | (frame["customer_id"].astype(str).str.strip() == "")
    if missing_id.any():
        _note(notes, f"dropped {int(missing_id.sum())} transactions without a customer_id")
    invalid_date = ~missing_id & frame["date"].isna()
    if invalid_date.any():
        _note(
            notes,
            f"dropped {int(invalid_date.sum())} transactions whose date is missing or invalid",
        )
    invalid_amount = ~missing_id & ~invalid_date & ~np.isfinite(frame["amount"])
    if invalid_amount.any():
        _note(
            notes,
            f"dropped {int(invalid_amount.sum())} transactions whose amount is missing or not a "
            "finite number",
        )
    negative = ~missing_id & ~invalid_date & ~invalid_amount & (frame["amount"] < 0)
    if negative.any():
        first = frame.loc[negative].iloc[0]
        _note(
            notes,
            f"dropped {int(negative.sum())} transactions with a negative amount (the first: "
            f"customer {str(first['customer_id'])!r}, amount {first['amount']:.2f}); record "
            "refunds as cancelled orders, not as negative purchases",
        )
    keep = ~(missing_id | invalid_date | invalid_amount | negative)
    kept = frame.loc[keep].copy()
    kept["customer_id"] = _id_strings(kept["customer_id"])
    return kept


def _id_strings(ids: pd.Series) -> pd.Series:
    # A numeric id column with a missing value is read as float, so 17850 arrives as 17850.0.
    if pd.api.types.is_float_dtype(ids):
        return ids.map(lambda value: str(int(value)) if value.is_integer() else str(value))
    return ids.astype(str).str.strip()


def _drop_future(frame: pd.DataFrame, cutoff: pd.Timestamp, notes: list[str]) -> pd.DataFrame:
    future = frame["date"] > cutoff
    if future.any():
        latest = frame.loc[future, "date"].max()
        _note(
            notes,
            f"dropped {int(future.sum())} transactions dated after as_of {cutoff.isoformat()} "
            f"(the latest: {latest.isoformat()}); they are ignored, not scored",
        )
    return frame.loc[~future]


def _group_by_day(frame: pd.DataFrame) -> pd.DataFrame:
    days = frame.assign(day=frame["date"].dt.tz_localize(None).dt.floor("D"))
    grouped = days.groupby(["customer_id", "day"], as_index=False, sort=True)["amount"].sum()
    return grouped.reset_index(drop=True)


def summarize_purchases(
    purchases: pd.DataFrame, cutoff_day: pd.Timestamp, unit_days: float = 1.0
) -> pd.DataFrame:
    """Build the per-customer summary from customer-day purchases (see the module docstring)."""
    if purchases.empty:
        return pd.DataFrame({name: pd.Series(dtype=float) for name in SUMMARY_COLUMNS}).astype(
            {"customer_id": str}
        )
    ordered = purchases.sort_values(["customer_id", "day"])
    is_first = ordered.groupby("customer_id").cumcount() == 0
    grouped = ordered.groupby("customer_id", sort=True)
    first_day = grouped["day"].min()
    last_day = grouped["day"].max()
    unit = pd.Timedelta(days=unit_days)
    repeat_spend = ordered.loc[~is_first].groupby("customer_id")["amount"].mean()
    summary = pd.DataFrame(
        {
            "frequency": grouped.size() - 1,
            "recency": (last_day - first_day) / unit,
            "T": (cutoff_day - first_day) / unit,
            "monetary_value": repeat_spend.reindex(first_day.index).fillna(0.0),
            "mean_spend": grouped["amount"].mean(),
            "first_purchase": first_day,
            "last_purchase": last_day,
        }
    )
    summary = summary.rename_axis("customer_id").reset_index()
    return summary.astype({"frequency": int, "recency": float, "T": float})


def summarize_transactions(
    transactions: pd.DataFrame, as_of: date | datetime, unit_days: float = 1.0
) -> tuple[pd.DataFrame, list[str]]:
    """Clean `transactions` and return the per-customer summary with the cleaning notes."""
    clean = clean_transactions(transactions, as_of)
    return summarize_purchases(clean.purchases, clean.cutoff_day, unit_days), clean.notes


def count_purchases_between(
    transactions: pd.DataFrame, start: date | datetime, end: date | datetime
) -> pd.Series:
    """Count purchase days per customer after `start` and at or before `end` (both cutoffs).

    Returns a Series indexed by customer_id; customers without a purchase there are absent.
    """
    clean = clean_transactions(transactions, end)
    purchases = clean.purchases
    start_day = cutoff_of(start).tz_localize(None).floor("D")
    window = purchases.loc[purchases["day"] > start_day]
    return window.groupby("customer_id").size()


def load_transactions(engine: Engine, *, as_of: datetime | None = None) -> pd.DataFrame:
    """Load live orders from the context store as a transactions table, one row per order.

    Cancelled orders are left out; the amount of an order is sum(quantity * unit_price)
    over its lines. `as_of` (time zone-aware) leaves out orders placed after it.
    """
    # NOTE: a cancellation invoice is stored as its own cancelled order, so the live order
    # it reversed still counts here at its full amount.
    amount = cast(func.sum(OrderLineRecord.quantity * OrderLineRecord.unit_price), Float)
    statement = (
        select(OrderRecord.customer_id, OrderRecord.order_id, OrderRecord.placed_at, amount)
        .join(OrderLineRecord, OrderLineRecord.order_id == OrderRecord.order_id)
        .where(OrderRecord.cancelled.is_(False))
        .group_by(OrderRecord.order_id, OrderRecord.customer_id, OrderRecord.placed_at)
    )
    if as_of is not None:
        if as_of.tzinfo is None or as_of.utcoffset() is None:
            raise ValueError(
                f"`as_of` must be time zone-aware, but got {as_of.isoformat()}; attach a zone, "
                "for example with .replace(tzinfo=datetime.UTC)"
            )
        statement = statement.where(OrderRecord.placed_at <= as_of)
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "date", "amount"])
    frame["date"] = pd.to_datetime(frame["date"], utc=True)
    frame["amount"] = frame["amount"].astype(float).round(2)
    logger.info("loaded %d live orders of %d customers", len(frame), frame["customer_id"].nunique())
    return frame[["customer_id", "date", "amount", "order_id"]]
