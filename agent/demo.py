"""The demo run: import real data, ingest the knowledge base, plan and draft for real customers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from agent.config import PROJECT_ROOT, Settings
from agent.context.importer import ImportReport, import_online_retail
from agent.domain import BrandProfile, Channel, Draft, DraftRequest, MessageKind
from agent.drafting.pipeline import Drafter, Ineligible
from agent.drafting.services import Services
from agent.knowledge.ingest import IngestReport, ingest
from agent.signals.planner import Planner, PlanResult, PlanStatus, plan_customers
from agent.signals.refresh import RefreshReport, refresh_signals
from agent.signals.store import load_brand_signals

log = logging.getLogger(__name__)

EXTRACT_PATH = PROJECT_ROOT / "data" / "online_retail_extract.csv.gz"
# Drafts per kind by email. Each kind also gets one SMS request, for a customer of that kind
# who gets no email draft where there is one. Marketing SMS requests end as "not drafted",
# because the data records no SMS consent.
EMAIL_DRAFTS = {
    MessageKind.ORDER_FOLLOWUP: 3,
    MessageKind.USAGE_TIP: 2,
    MessageKind.REVIEW_REQUEST: 3,
    MessageKind.WINBACK: 3,
}


@dataclass(frozen=True)
class DemoRequest:
    customer_id: str
    kind: MessageKind
    channel: Channel
    reason: str = ""


@dataclass
class DemoResult:
    imported: ImportReport
    ingested: IngestReport
    as_of: datetime
    refresh: RefreshReport | None = None
    plan: PlanResult | None = None
    drafts: list[Draft] = field(default_factory=list)
    ineligible: list[tuple[DemoRequest, str]] = field(default_factory=list)
    previews: list[Path] = field(default_factory=list)


def choose_requests(
    services: Services, brand: BrandProfile, plan: PlanResult, as_of: datetime
) -> tuple[list[DemoRequest], list[tuple[DemoRequest, str]]]:
    """Pick customers the planner chose for each drafted kind, by email and then by SMS.

    Returns the requests to draft and the SMS requests the planner found ineligible, with
    the blocking finding as the reason.
    """
    by_kind: dict[MessageKind, list[str]] = {kind: [] for kind in EMAIL_DRAFTS}
    reasons: dict[str, str] = {}
    for row in plan.rows:
        if row.kind in by_kind and row.status == PlanStatus.PLANNED:
            by_kind[row.kind].append(row.customer_id)
            reasons[row.customer_id] = row.reason
    requests = [
        DemoRequest(customer_id, kind, Channel.EMAIL, reasons[customer_id])
        for kind, count in EMAIL_DRAFTS.items()
        for customer_id in by_kind[kind][:count]
    ]
    signals = load_brand_signals(services.engine, brand.brand_id)
    sms_planner = Planner(services.contexts, brand, signals, channel=Channel.SMS)
    ineligible = []
    for kind, count in EMAIL_DRAFTS.items():
        customers = by_kind[kind]
        if not customers:
            continue
        customer_id = customers[count] if len(customers) > count else customers[0]
        row = sms_planner.plan(customer_id, as_of)
        request = DemoRequest(customer_id, kind, Channel.SMS, row.reason)
        if row.kind is kind:
            requests.append(request)
        elif row.findings:
            finding = row.findings[0]
            ineligible.append((request, f"{finding.check_id}: {finding.message}"))
        else:
            ineligible.append((request, f"planner: {row.reason}"))
    return requests, ineligible


def write_preview(draft: Draft, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if draft.html is not None:
        path = folder / f"{draft.id}.html"
        path.write_text(draft.html, encoding="utf-8")
    else:
        path = folder / f"{draft.id}.txt"
        path.write_text(draft.text + "\n", encoding="utf-8")
    return path


def run_demo(
    settings: Settings,
    *,
    extract: Path = EXTRACT_PATH,
    on_progress: Callable[[str], None] = lambda _message: None,
) -> DemoResult:
    """Import the extract, ingest the knowledge base, compute signals, plan, and draft for
    customers the planner chose."""
    services = Services(settings)
    on_progress(f"importing {extract.name}")
    imported = import_online_retail(extract, services.engine)
    on_progress("ingesting the knowledge base")
    ingested = ingest(settings)

    services = Services(settings)  # a fresh catalogue after the import
    latest = services.contexts.latest_order_time()
    if latest is None:
        raise RuntimeError(f"no orders were imported from {extract}")
    as_of = latest + timedelta(hours=1)
    result = DemoResult(imported=imported, ingested=ingested, as_of=as_of)

    brand = services.brand(settings.default_brand)
    on_progress("computing customer signals")
    result.refresh = refresh_signals(services.engine, brand, as_of, contexts=services.contexts)
    on_progress("planning a message for every customer")
    result.plan = plan_customers(
        services.engine,
        brand,
        as_of,
        holdout_share=settings.plan_holdout_share,
        contexts=services.contexts,
    )
    requests, result.ineligible = choose_requests(services, brand, result.plan, as_of)

    drafter = Drafter(services)
    previews = settings.data_dir / "previews"
    for request in requests:
        on_progress(f"drafting {request.kind} by {request.channel} for {request.customer_id}")
        try:
            draft = drafter.draft(
                DraftRequest(
                    customer_id=request.customer_id,
                    kind=request.kind,
                    channel=request.channel,
                    as_of=as_of,
                )
            )
        except Ineligible as error:
            result.ineligible.append((request, f"{error.finding.check_id}: {error}"))
            continue
        result.drafts.append(draft)
        result.previews.append(write_preview(draft, previews))
    return result
