"""Review decisions and edits: approve, reject, edit and regenerate a stored draft.

Each function stores its change and its audit event in one transaction, or raises and
leaves the draft as it was. The errors, and the HTTP status an API would map them to:

- `DraftNotFound` (404): no draft has the id.
- `DraftAlreadyDecided` (409): the draft is approved or rejected already.
- `BlockingFindings` (409): approval without an override of a draft with blocking findings.
- `DraftChanged` (409): another reviewer stored a version since the draft was read.
- `MissingReason`, `InvalidEdit`, `NoChanges` (422): the input itself is unusable.
- `EditBlocked` (409): an edit that fails a blocking check and was not confirmed.
- `ContextUnavailable` (409): the customer is not in the database, so checks cannot run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from agent.domain import Draft, DraftRequest, DraftStatus, Finding, Severity
from agent.drafting.pipeline import Drafter
from agent.drafting.services import Services
from agent.review.audit import ReviewAction
from agent.review.editing import format_fields, html_problems, parse_fields
from agent.review.errors import (
    BlockingFindings,
    DraftAlreadyDecided,
    EditBlocked,
    InvalidEdit,
    MissingReason,
    NoChanges,
)
from agent.review.recheck import Checked, DraftingFacts, check_fields, drafting_facts
from agent.review.store import DraftStore
from agent.review.versions import DraftVersion, VersionOrigin

log = logging.getLogger(__name__)

# The maximum length of a copywriter's note, in characters, that a draft request accepts.
MAX_NOTE_CHARS = DraftRequest.model_fields["copywriter_note"].metadata[0].max_length
# Statuses of drafts waiting for a decision.
OPEN_STATUSES = (DraftStatus.NEEDS_REVIEW, DraftStatus.BLOCKED, DraftStatus.READY)


def blocking_findings(draft: Draft) -> list[Finding]:
    return [f for f in draft.findings if f.severity == Severity.BLOCK]


def _store(store: DraftStore | Services) -> DraftStore:
    return store if isinstance(store, DraftStore) else store.drafts


def _required(what: str, value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        raise MissingReason(what)
    return text


def _require_open(draft: Draft, action: str) -> None:
    if draft.status not in OPEN_STATUSES:
        raise DraftAlreadyDecided(draft.id, draft.status.value, action)


# --- decisions --------------------------------------------------------------------------


def approve(
    store: DraftStore | Services, draft_id: str, reviewer: str, override: str | None = None
) -> Draft:
    """Approve a draft waiting for review and return it with status approved.

    A draft with blocking findings needs `override`, the reason it may be sent anyway; the
    approval is then recorded as an override with that reason. Raises DraftNotFound,
    DraftAlreadyDecided, BlockingFindings or MissingReason (an empty reviewer or override).
    """
    reviewer = _required("the reviewer name", reviewer)
    reason = _required("the override reason", override) if override is not None else None

    def action_for(draft: Draft) -> ReviewAction:
        _require_open(draft, "approved")
        blocks = blocking_findings(draft)
        if blocks and reason is None:
            raise BlockingFindings(draft.id, blocks)
        return ReviewAction.OVERRIDE if blocks else ReviewAction.APPROVE

    return _store(store).decide(
        draft_id,
        status=DraftStatus.APPROVED,
        reviewer=reviewer,
        reason=reason,
        action_for=action_for,
    )


def reject(store: DraftStore | Services, draft_id: str, reviewer: str, reason: str) -> Draft:
    """Reject a draft waiting for review, with the reason; return it with status rejected.

    Raises DraftNotFound, DraftAlreadyDecided, or MissingReason for an empty reason or reviewer.
    """
    reviewer = _required("the reviewer name", reviewer)
    reason = _required("the rejection reason", reason)

    def action_for(draft: Draft) -> ReviewAction:
        _require_open(draft, "rejected")
        return ReviewAction.REJECT

    return _store(store).decide(
        draft_id,
        status=DraftStatus.REJECTED,
        reviewer=reviewer,
        reason=reason,
        action_for=action_for,
    )


# --- edits --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EditSession:
    """A draft opened for editing: what the editor starts from and what the save checks."""

    draft: Draft
    version: int
    facts: DraftingFacts
    text: str


def start_edit(services: Services, draft_id: str, *, as_of: datetime | None = None) -> EditSession:
    """Open a draft for editing: rebuild its drafting facts and write its fields as text.

    Raises DraftNotFound, DraftAlreadyDecided for an approved draft, or ContextUnavailable.
    """
    store = services.drafts
    draft = store.get(draft_id)
    if draft.status == DraftStatus.APPROVED:
        raise DraftAlreadyDecided(draft.id, draft.status.value, "edited")
    version = store.current_version(draft_id)
    facts = drafting_facts(services, draft, as_of)
    header = [
        f"Draft {draft.id}: {draft.kind} by {draft.channel}, version {version}, {draft.status}.",
        "Edit the fields, then save and close the editor. Lines starting with # above the",
        "--- line are ignored. Fields are plain text: the template adds the greeting, order",
        "details, links, sign-off and footer, so leave out markup and {{ }} placeholders.",
        "The body below --- is one paragraph.",
    ]
    return EditSession(draft, version, facts, format_fields(draft.fields, header))


def check_edit(services: Services, session: EditSession, text: str) -> Checked:
    """Parse edited text and run the guardrails on it; nothing is stored.

    Raises InvalidEdit for text that is not in the edit format or contains markup, and
    NoChanges when every field is as it was.
    """
    fields = parse_fields(text, list(session.draft.fields))
    if fields == session.draft.fields:
        raise NoChanges(session.draft.id)
    checked = check_fields(services, session.facts, session.draft, fields)
    problems = html_problems(checked.draft.html or "")
    if problems:
        raise InvalidEdit(f"the rendered HTML is not well formed: {'; '.join(problems)}")
    return checked


def save_edit(
    services: Services,
    session: EditSession,
    checked: Checked,
    reviewer: str,
    *,
    allow_blocked: bool = False,
) -> DraftVersion:
    """Store a checked edit as the draft's next version, with its audit event.

    A version with blocking findings is stored only with `allow_blocked`, else EditBlocked
    is raised. Raises DraftChanged when another version was stored since `session` began.
    """
    reviewer = _required("the reviewer name", reviewer)
    if checked.blocking and not allow_blocked:
        raise EditBlocked(session.draft.id, checked.blocking)
    return services.drafts.add_version(
        session.draft.id,
        checked.draft,
        author=reviewer,
        action=ReviewAction.EDIT,
        origin=VersionOrigin.EDIT,
        expected_version=session.version,
        as_of=session.facts.as_of,
    )


def edit(
    services: Services,
    draft_id: str,
    fields: dict[str, str],
    reviewer: str,
    *,
    allow_blocked: bool = False,
    as_of: datetime | None = None,
) -> DraftVersion:
    """Check and store new field values for a draft in one call, as an API would."""
    session = start_edit(services, draft_id, as_of=as_of)
    unknown = sorted(set(fields) - set(session.draft.fields))
    if unknown:
        raise InvalidEdit(
            f"unknown fields {', '.join(unknown)}; the fields of draft `{draft_id}` are "
            f"{', '.join(session.draft.fields)}"
        )
    text = format_fields(session.draft.fields | fields, header=[])
    checked = check_edit(services, session, text)
    return save_edit(services, session, checked, reviewer, allow_blocked=allow_blocked)


# --- regeneration -------------------------------------------------------------------------


def regenerate(
    services: Services,
    draft_id: str,
    reviewer: str,
    note: str,
    *,
    as_of: datetime | None = None,
) -> DraftVersion:
    """Draft the message again with the copywriter's note and store it as the next version.

    Raises DraftNotFound, DraftAlreadyDecided for an approved draft, MissingReason for an
    empty note, ContextUnavailable, and whatever drafting raises (Ineligible when the
    customer may no longer get the message, KnowledgeStoreError, BrandNotFound).
    """
    reviewer = _required("the reviewer name", reviewer)
    note = _required("the note for the model", note)
    if len(note) > MAX_NOTE_CHARS:
        raise InvalidEdit(
            f"the note is {len(note)} characters long; the maximum is {MAX_NOTE_CHARS}"
        )
    store = services.drafts
    draft = store.get(draft_id)
    if draft.status == DraftStatus.APPROVED:
        raise DraftAlreadyDecided(draft.id, draft.status.value, "regenerated")
    version = store.current_version(draft_id)
    facts = drafting_facts(services, draft, as_of)
    request = DraftRequest(
        customer_id=draft.customer_id,
        kind=draft.kind,
        channel=draft.channel,
        brand=draft.brand,
        as_of=facts.as_of,
        copywriter_note=note,
    )
    fresh = Drafter(services).draft(request, save=False)
    log.info("regenerated draft %s status=%s", draft_id, fresh.status)
    return store.add_version(
        draft_id,
        fresh,
        author=reviewer,
        action=ReviewAction.REGENERATE,
        origin=VersionOrigin.REGENERATE,
        expected_version=version,
        note=note,
        as_of=facts.as_of,
    )
