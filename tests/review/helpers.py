"""Factories for review tests: a private copy of the prepared database, and seeded drafts."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from agent.config import Settings, get_settings
from agent.domain import Channel, Draft, DraftRequest, DraftStatus, Finding, MessageKind, Severity
from agent.drafting.pipeline import Drafter
from agent.drafting.services import Services
from tests.fakes import ScriptedProvider

EMAIL_OUTPUT = json.dumps(
    {
        "subject": "Your order is on its way to you",
        "body": "Thank you for shopping with us. We hope it brings you joy.",
    }
)
SMS_OUTPUT = json.dumps({"body": "Thank you for your order, we hope you love it."})
# Recent customers tried when looking for one whose draft has no blocking finding.
CANDIDATE_CUSTOMERS = 12
DISCOUNT_BODY = "Thank you for shopping with us. Use code SAVE50 for 50% off your next order."


def private_settings(
    prepared_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Point the settings at a copy of the prepared database and at the shared index.

    Each test writes drafts to its own database, so tests never see each other's drafts.
    Drafts that other tests stored in the prepared database are left out of the copy.
    """
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with (
        sqlite3.connect(prepared_data_dir / "aftercare.db") as source,
        sqlite3.connect(data_dir / "aftercare.db") as target,
    ):
        source.backup(target)
        tables = {row[0] for row in target.execute("SELECT name FROM sqlite_master")}
        for table in ("review_events", "draft_versions", "drafts"):
            if table in tables:
                target.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
    monkeypatch.setenv("AFTERCARE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("AFTERCARE_CHROMA_PATH", str(prepared_data_dir / "chroma"))
    get_settings.cache_clear()
    return Settings(data_dir=data_dir, chroma_path=prepared_data_dir / "chroma")


def scripted_services(settings: Settings, outputs: list[str] | None = None) -> Services:
    return Services(settings, provider=ScriptedProvider(list(outputs or [])))


def latest_moment(services: Services) -> datetime:
    return services.contexts.latest_order_time() + timedelta(hours=1)


def recent_customers(services: Services, count: int) -> list[str]:
    return services.contexts.recent_customers(
        as_of=latest_moment(services), max_days=10, limit=count
    )


def seed_draft(
    services: Services,
    *,
    customer: str | None = None,
    kind: MessageKind = MessageKind.ORDER_FOLLOWUP,
    channel: Channel = Channel.EMAIL,
    output: str | None = None,
    blocked: bool = False,
) -> Draft:
    """Draft a message with the scripted model and store it with `DraftStore.save`.

    Without `customer`, the first recent customer whose draft has no blocking finding is
    used, so tests start from a clean draft. `blocked` adds a blocking finding on a span of
    the body before storing.
    """
    candidates = [customer] if customer else recent_customers(services, CANDIDATE_CUSTOMERS)
    problems = []
    for candidate in candidates:
        draft = draft_for(services, candidate, kind, channel, output)
        if customer or not any(f.severity == Severity.BLOCK for f in draft.findings):
            break
        problems.append(f"{candidate}: {[f.check_id for f in draft.findings]}")
    else:
        raise AssertionError(f"no recent customer drafts without a blocking finding: {problems}")
    if blocked:
        finding = Finding(
            check_id="grounding.products",
            severity=Severity.BLOCK,
            message="names a product the customer did not buy",
            field="body",
            span="brings you joy",
            suggestion="name only products from the order",
        )
        draft = draft.model_copy(
            update={"findings": [*draft.findings, finding], "status": DraftStatus.BLOCKED}
        )
    services.drafts.save(draft)
    return draft


def draft_for(
    services: Services, customer: str, kind: MessageKind, channel: Channel, output: str | None
) -> Draft:
    output = output or (SMS_OUTPUT if channel == Channel.SMS else EMAIL_OUTPUT)
    # The same output for every sample and re-ask, so a failing check cannot exhaust the script.
    services.provider.outputs = [output] * 8
    request = DraftRequest(
        customer_id=customer, kind=kind, channel=channel, as_of=latest_moment(services)
    )
    return Drafter(services).draft(request, save=False)


def write_script(path: Path, body: str) -> Path:
    """Write an executable Python script to `path` for use as $EDITOR."""
    import sys

    path.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
    path.chmod(0o755)
    return path
