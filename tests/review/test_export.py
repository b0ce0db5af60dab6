"""Exporting drafts for a sending platform, and writing previews."""

import csv
import io
import json

from agent.domain import Channel
from agent.review import workflow
from agent.review.export import COLUMNS, ExportFormat, export_records, write_records
from agent.review.preview import preview_html, write_preview
from tests.review.helpers import seed_draft


def test_records_carry_approval(services) -> None:
    draft = seed_draft(services)
    workflow.approve(services.drafts, draft.id, "alice")
    other = seed_draft(services)
    records = export_records(services.drafts, [services.drafts.get(draft.id), other])
    assert records[0]["approved_by"] == "alice"
    assert records[0]["approved_at"] is not None
    assert records[1]["approved_by"] is None
    assert list(records[0]) == list(COLUMNS)


def test_csv_round_trips_multiline_text(services) -> None:
    draft = seed_draft(services)
    records = export_records(services.drafts, [draft])
    stream = io.StringIO()
    assert write_records(records, stream, ExportFormat.CSV) == 1
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert rows[0]["text"] == draft.text
    assert rows[0]["html"] == draft.html
    assert rows[0]["send_after"] == ""


def test_jsonl_writes_one_object_per_line(services) -> None:
    drafts = [seed_draft(services), seed_draft(services, channel=Channel.SMS)]
    stream = io.StringIO()
    write_records(export_records(services.drafts, drafts), stream, ExportFormat.JSONL)
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [d.id for d in drafts]
    assert json.loads(lines[1])["html"] is None


def test_email_preview_is_stored_html(services, tmp_path) -> None:
    draft = seed_draft(services)
    path = write_preview(draft, tmp_path / "nested" / "preview.html")
    assert path.read_text(encoding="utf-8") == draft.html


def test_sms_preview_escapes_text(services) -> None:
    draft = seed_draft(services, channel=Channel.SMS)
    page = preview_html(draft.model_copy(update={"text": "Hi <script>x</script> & bye"}))
    assert "&lt;script&gt;" in page
    assert "<script>" not in page
    assert "segment(s)" in page
