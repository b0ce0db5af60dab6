"""Draft one persisted request, record its outcome, and recover requests after a restart."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from agent.api.draft_requests import RequestStatus, RequestStore, StoredRequest
from agent.api.problems import Problem
from agent.context.store import CustomerNotFound
from agent.domain import Draft, DraftRequest
from agent.drafting.kinds import UnsupportedKind
from agent.drafting.pipeline import Drafter, Ineligible
from agent.drafting.services import Services
from agent.guardrails.schedule import NoSendTime
from agent.guardrails.zones import InvalidTimeZone
from agent.knowledge.brand import BrandNotFound
from agent.knowledge.documents import InvalidKnowledgeDocument
from agent.knowledge.errors import KnowledgeStoreError
from agent.llm.factory import ProviderConfigError
from agent.review.store import DraftNotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """The result of one request: a draft, or the problem details the API returns."""

    draft: Draft | None = None
    problem: Problem | None = None


def problem_for(error: Exception) -> Problem:
    """Map a drafting error to the problem details the API returns."""
    if isinstance(error, CustomerNotFound):
        return Problem(404, str(error), name="customer-not-found")
    if isinstance(error, BrandNotFound | UnsupportedKind):
        return Problem(422, str(error), name="unsupported-request", title="Unsupported request")
    if isinstance(error, Ineligible):
        finding = error.finding
        return Problem(
            409,
            finding.message,
            name="ineligible",
            title="Request may not be drafted",
            check_id=finding.check_id,
            suggestion=finding.suggestion,
        )
    if isinstance(error, InvalidTimeZone | NoSendTime):
        return Problem(422, str(error), name="no-send-time", title="No time to send in")
    if isinstance(error, OverflowError):
        return Problem(422, f"a date in the request is out of range: {error}", name="out-of-range")
    if isinstance(error, KnowledgeStoreError | InvalidKnowledgeDocument):
        return Problem(503, str(error), name="knowledge-base-unavailable")
    if isinstance(error, ProviderConfigError):
        return Problem(503, str(error), name="model-unavailable")
    return Problem(
        500,
        f"drafting failed with {type(error).__name__}; the error is logged, so retry later",
        name="internal-error",
    )


def outcome_of(stored: StoredRequest, services: Services) -> Outcome | None:
    """Return the outcome of a finished request, or None while it is queued or running."""
    if stored.status is RequestStatus.FAILED:
        return Outcome(problem=Problem.from_body(stored.error or {}))
    if stored.status is RequestStatus.DONE and stored.draft_id is not None:
        return Outcome(draft=services.drafts.get(stored.draft_id))
    return None


class DraftRunner:
    """Drafts stored requests with the shared services and records each outcome."""

    def __init__(self, services: Services, store: RequestStore, *, max_attempts: int) -> None:
        self.services = services
        self.store = store
        self.max_attempts = max_attempts

    def run(self, request_id: str) -> Outcome:
        stored = self.store.start(request_id)
        if stored is None:
            # Finished or taken by another worker since it was queued.
            return outcome_of(self.store.get(request_id), self.services) or Outcome()
        try:
            request = DraftRequest.model_validate(stored.payload)
            draft = Drafter(self.services).draft(request, save=False)
        except Exception as error:  # noqa: BLE001 - every failure is recorded on the request
            return self._failed(request_id, error)
        self.store.record_draft_id(request_id, draft.id)
        self.services.drafts.save(draft)
        self.store.finish(request_id)
        log.info("draft request %s done: draft %s status=%s", request_id, draft.id, draft.status)
        return Outcome(draft=draft)

    def _failed(self, request_id: str, error: Exception) -> Outcome:
        problem = problem_for(error)
        if problem.status >= 500:
            log.error(
                "draft request %s failed with %s", request_id, type(error).__name__, exc_info=error
            )
        else:
            log.info("draft request %s answered %s (%s)", request_id, problem.status, problem.type)
        self.store.fail(request_id, problem.body(""), final=problem.status < 500)
        return Outcome(problem=problem)

    def recover(self) -> list[str]:
        """Settle the requests left queued or running by a stopped process.

        A running request whose draft was saved is marked done. One that has been started
        `max_attempts` times is marked failed, since each start ended with the process
        stopping. Every other one is queued again. Returns the ids to queue, oldest first.
        """
        resumed: list[str] = []
        for stored in self.store.unfinished():
            if stored.status is RequestStatus.RUNNING and self._draft_saved(stored):
                self.store.finish(stored.id)
            elif stored.status is RequestStatus.RUNNING and stored.attempts >= self.max_attempts:
                problem = Problem(
                    500,
                    f"drafting was interrupted {stored.attempts} time(s) by the server "
                    "stopping; submit the request again",
                    name="draft-interrupted",
                )
                self.store.fail(stored.id, problem.body(""), final=False)
            else:
                self.store.requeue(stored.id)
                resumed.append(stored.id)
        if resumed:
            log.info("resuming %d draft request(s) left unfinished", len(resumed))
        return resumed

    def _draft_saved(self, stored: StoredRequest) -> bool:
        if stored.draft_id is None:
            return False
        try:
            self.services.drafts.get(stored.draft_id)
        except DraftNotFound:
            return False
        return True
