"""Errors of the review workflow. Each message states what failed and what to do next."""

from __future__ import annotations

from agent.domain import Finding


class ReviewError(Exception):
    """A review action was refused; the draft and its versions are unchanged."""


class DraftAlreadyDecided(ReviewError):
    def __init__(self, draft_id: str, status: str, action: str) -> None:
        super().__init__(
            f"draft `{draft_id}` is already {status}, so it cannot be {action}; "
            f"see `aftercare review history {draft_id}`"
        )
        self.draft_id = draft_id
        self.status = status


class BlockingFindings(ReviewError):
    """Approval refused because the draft has findings of severity block."""

    def __init__(self, draft_id: str, findings: list[Finding]) -> None:
        ids = ", ".join(dict.fromkeys(f.check_id for f in findings))
        super().__init__(
            f"draft `{draft_id}` has blocking findings ({ids}); edit or regenerate it, "
            "or approve with an override reason to send it anyway"
        )
        self.draft_id = draft_id
        self.findings = findings


class MissingReason(ReviewError, ValueError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is empty; give a short reason")
        self.what = what


class NoChanges(ReviewError):
    def __init__(self, draft_id: str) -> None:
        super().__init__(
            f"the edit leaves every field of draft `{draft_id}` as it was; nothing saved"
        )
        self.draft_id = draft_id


class InvalidEdit(ReviewError, ValueError):
    """The edited text cannot become a version. The message states where and why."""


class EditBlocked(ReviewError):
    """The edit passed the format checks but makes a blocking finding, and was not confirmed."""

    def __init__(self, draft_id: str, findings: list[Finding]) -> None:
        ids = ", ".join(dict.fromkeys(f.check_id for f in findings))
        super().__init__(
            f"the edit of draft `{draft_id}` fails blocking checks ({ids}); fix the text, "
            "or confirm to store it as a blocked version"
        )
        self.draft_id = draft_id
        self.findings = findings
