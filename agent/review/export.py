"""Export reviewed drafts as CSV or JSON lines that a sending platform can import."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from enum import StrEnum
from typing import TextIO

from agent.domain import Draft
from agent.review.store import DraftStore

COLUMNS = (
    "id",
    "customer_id",
    "channel",
    "kind",
    "subject",
    "text",
    "html",
    "send_after",
    "approved_by",
    "approved_at",
)


class ExportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


def export_records(store: DraftStore, drafts: list[Draft]) -> list[dict[str, str | None]]:
    """Return one record per draft with the columns in COLUMNS; times are ISO 8601 UTC."""
    approvals = store.approvals([d.id for d in drafts])
    records = []
    for draft in drafts:
        approval = approvals.get(draft.id)
        records.append(
            {
                "id": draft.id,
                "customer_id": draft.customer_id,
                "channel": draft.channel.value,
                "kind": draft.kind.value,
                "subject": draft.subject,
                "text": draft.text,
                "html": draft.html,
                "send_after": draft.send_after.isoformat() if draft.send_after else None,
                "approved_by": approval.reviewer if approval else None,
                "approved_at": approval.at.isoformat() if approval else None,
            }
        )
    return records


def write_records(
    records: Iterable[dict[str, str | None]], stream: TextIO, export_format: ExportFormat
) -> int:
    """Write records to `stream` and return how many were written.

    CSV has a header row, quotes fields that hold commas, quotes or line breaks, and writes
    an empty cell for a missing value. JSON lines write a missing value as null.
    """
    count = 0
    if export_format == ExportFormat.CSV:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow(record)
            count += 1
        return count
    for record in records:
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count
