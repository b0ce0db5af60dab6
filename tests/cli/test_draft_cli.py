"""The `aftercare` commands through Typer's runner."""

import json
import sqlite3

from typer.testing import CliRunner

from agent.cli.app import app

runner = CliRunner()


def test_schema_context_is_json_schema() -> None:
    result = runner.invoke(app, ["schema", "context"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"] == "CustomerContext"


def test_draft_unknown_customer_exits_2(prepared_settings) -> None:
    result = runner.invoke(
        app, ["draft", "--customer", "99999999", "--kind", "order_followup", "--channel", "email"]
    )
    assert result.exit_code == 2
    assert "99999999" in result.output


def test_draft_invalid_kind_exits_2(prepared_settings) -> None:
    result = runner.invoke(
        app, ["draft", "--customer", "1", "--kind", "newsletter", "--channel", "email"]
    )
    assert result.exit_code == 2


def test_draft_missing_context_file(prepared_settings, tmp_path) -> None:
    missing = tmp_path / "absent.json"
    result = runner.invoke(
        app, ["draft", "--context", str(missing), "--kind", "winback", "--channel", "email"]
    )
    assert result.exit_code == 2
    assert "absent.json" in result.output


def test_draft_invalid_context_names_field(prepared_settings, tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"customer_id": "c1", "orders": [{"order_id": "1"}]}))
    result = runner.invoke(
        app, ["draft", "--context", str(bad), "--kind", "winback", "--channel", "email"]
    )
    assert result.exit_code == 2
    assert "orders.0.placed_at" in result.output


def test_draft_without_ingest_names_command(tmp_path, monkeypatch, prepared_data_dir) -> None:
    from agent.config import get_settings

    empty = tmp_path / "empty"
    empty.mkdir()
    with (
        sqlite3.connect(prepared_data_dir / "aftercare.db") as source,
        sqlite3.connect(empty / "aftercare.db") as target,
    ):
        source.backup(target)
    monkeypatch.setenv("AFTERCARE_DATA_DIR", str(empty))
    get_settings.cache_clear()
    from agent.context.db import make_engine
    from agent.context.store import ContextStore

    store = ContextStore(make_engine(f"sqlite:///{empty / 'aftercare.db'}"))
    latest = store.latest_order_time()
    customer = store.recent_customers(as_of=latest, max_days=10, limit=1)[0]
    result = runner.invoke(
        app,
        [
            "draft",
            "--customer",
            customer,
            "--kind",
            "order_followup",
            "--channel",
            "email",
            "--as-of",
            latest.isoformat(),
        ],
    )
    get_settings.cache_clear()
    assert result.exit_code == 2
    assert "aftercare kb ingest" in result.output


def test_draft_corrupt_index_names_rebuild(tmp_path, monkeypatch, prepared_data_dir) -> None:
    from agent.config import get_settings

    broken = tmp_path / "broken"
    broken.mkdir()
    with (
        sqlite3.connect(prepared_data_dir / "aftercare.db") as source,
        sqlite3.connect(broken / "aftercare.db") as target,
    ):
        source.backup(target)
    (broken / "chroma").mkdir()
    (broken / "chroma" / "chroma.sqlite3").write_bytes(b"not a database" * 100)
    monkeypatch.setenv("AFTERCARE_DATA_DIR", str(broken))
    get_settings.cache_clear()
    result = runner.invoke(
        app, ["draft", "--customer", "12680", "--kind", "order_followup", "--channel", "email"]
    )
    get_settings.cache_clear()
    assert result.exit_code == 2
    assert "aftercare kb ingest --rebuild" in result.output


def test_error_with_brackets_prints_verbatim(prepared_settings) -> None:
    result = runner.invoke(
        app,
        ["draft", "--customer", "1", "--kind", "winback", "--channel", "email", "--brand", "[/x]"],
    )
    assert result.exit_code == 2
    assert "[/x]" in result.output
