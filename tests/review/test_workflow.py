"""Review decisions, edits and regeneration over the real database and index."""

import json

import pytest

from agent.domain import Channel, DraftStatus, MessageKind
from agent.review import workflow
from agent.review.audit import ReviewAction
from agent.review.errors import (
    BlockingFindings,
    DraftAlreadyDecided,
    EditBlocked,
    InvalidEdit,
    MissingReason,
    NoChanges,
)
from agent.review.recheck import ContextUnavailable
from agent.review.store import DraftChanged, DraftNotFound
from agent.review.versions import VersionOrigin
from tests.review.helpers import DISCOUNT_BODY, seed_draft


def test_approve_ready_draft(services) -> None:
    draft = seed_draft(services)
    approved = workflow.approve(services.drafts, draft.id, "alice")
    assert approved.status == DraftStatus.APPROVED
    assert services.drafts.get(draft.id).status == DraftStatus.APPROVED
    event = services.drafts.history(draft.id)[-1]
    assert event.action == ReviewAction.APPROVE
    assert event.reviewer == "alice"
    assert event.before.status == draft.status.value
    assert event.after.status == "approved"


def test_approve_accepts_services(services) -> None:
    draft = seed_draft(services)
    assert workflow.approve(services, draft.id, "alice").status == DraftStatus.APPROVED


def test_blocking_finding_refuses_approval(services) -> None:
    draft = seed_draft(services, blocked=True)
    with pytest.raises(BlockingFindings) as error:
        workflow.approve(services.drafts, draft.id, "alice")
    assert "grounding.products" in str(error.value)
    assert services.drafts.get(draft.id).status == DraftStatus.BLOCKED
    assert services.drafts.history(draft.id) == []


def test_override_approves_and_records_reason(services) -> None:
    draft = seed_draft(services, blocked=True)
    workflow.approve(services.drafts, draft.id, "alice", override="checked by legal")
    event = services.drafts.history(draft.id)[-1]
    assert services.drafts.get(draft.id).status == DraftStatus.APPROVED
    assert event.action == ReviewAction.OVERRIDE
    assert event.reason == "checked by legal"


def test_blank_override_is_rejected(services) -> None:
    draft = seed_draft(services, blocked=True)
    with pytest.raises(MissingReason):
        workflow.approve(services.drafts, draft.id, "alice", override="  ")


def test_reject_records_reason(services) -> None:
    draft = seed_draft(services)
    rejected = workflow.reject(services.drafts, draft.id, "bob", "tone is off")
    assert rejected.status == DraftStatus.REJECTED
    event = services.drafts.history(draft.id)[-1]
    assert (event.action, event.reason) == (ReviewAction.REJECT, "tone is off")


def test_reject_without_reason_raises(services) -> None:
    draft = seed_draft(services)
    with pytest.raises(MissingReason):
        workflow.reject(services.drafts, draft.id, "bob", "")
    assert services.drafts.get(draft.id).status == draft.status


def test_decided_draft_cannot_be_decided_again(services) -> None:
    draft = seed_draft(services)
    workflow.reject(services.drafts, draft.id, "bob", "tone is off")
    with pytest.raises(DraftAlreadyDecided) as error:
        workflow.approve(services.drafts, draft.id, "alice")
    assert "already rejected" in str(error.value)


def test_unknown_draft_raises_not_found(services) -> None:
    with pytest.raises(DraftNotFound):
        workflow.approve(services.drafts, "nope", "alice")


def test_edit_stores_new_version(services) -> None:
    draft = seed_draft(services)
    body = "Thank you for shopping with us. We hope it arrives safely."
    version = workflow.edit(services, draft.id, {"body": body}, "alice")
    assert version.number == 2
    assert version.origin == VersionOrigin.EDIT
    stored = services.drafts.get(draft.id)
    assert stored.fields["body"] == body
    assert body in stored.text
    assert body in (stored.html or "")
    assert services.drafts.versions(draft.id)[0].draft == draft
    assert services.drafts.history(draft.id)[-1].changed_fields() == ["body"]


def test_edit_keeps_order_facts(services) -> None:
    draft = seed_draft(services)
    body = "Thank you for shopping with us. We hope it arrives safely."
    workflow.edit(services, draft.id, {"body": body}, "alice")
    stored = services.drafts.get(draft.id)
    assert stored.text == draft.text.replace(draft.fields["body"], body)


def test_edit_with_blocking_finding_is_refused(services) -> None:
    draft = seed_draft(services)
    with pytest.raises(EditBlocked) as error:
        workflow.edit(services, draft.id, {"body": DISCOUNT_BODY}, "alice")
    assert "offers.code" in str(error.value)
    assert services.drafts.get(draft.id) == draft
    assert len(services.drafts.versions(draft.id)) == 1


def test_confirmed_blocking_edit_is_stored_blocked(services) -> None:
    draft = seed_draft(services)
    version = workflow.edit(
        services, draft.id, {"body": DISCOUNT_BODY}, "alice", allow_blocked=True
    )
    assert version.status == DraftStatus.BLOCKED
    assert services.drafts.get(draft.id).status == DraftStatus.BLOCKED
    assert services.drafts.versions(draft.id)[0].draft == draft


def test_edit_with_markup_is_invalid(services) -> None:
    draft = seed_draft(services)
    with pytest.raises(InvalidEdit):
        workflow.edit(services, draft.id, {"body": "Thank you for <b>shopping</b>."}, "alice")
    assert services.drafts.get(draft.id) == draft


def test_edit_unknown_field_is_invalid(services) -> None:
    draft = seed_draft(services)
    with pytest.raises(InvalidEdit) as error:
        workflow.edit(services, draft.id, {"colour": "red"}, "alice")
    assert "colour" in str(error.value)


def test_edit_without_change_raises(services) -> None:
    draft = seed_draft(services)
    with pytest.raises(NoChanges):
        workflow.edit(services, draft.id, {"body": draft.fields["body"]}, "alice")


def test_approved_draft_cannot_be_edited(services) -> None:
    draft = seed_draft(services)
    workflow.approve(services.drafts, draft.id, "alice")
    with pytest.raises(DraftAlreadyDecided):
        workflow.edit(services, draft.id, {"body": "Thank you, truly."}, "bob")


def test_rejected_draft_returns_to_queue_after_edit(services) -> None:
    draft = seed_draft(services)
    workflow.reject(services.drafts, draft.id, "bob", "too short")
    workflow.edit(services, draft.id, {"body": "Thank you for shopping with us today."}, "bob")
    assert services.drafts.get(draft.id).status in workflow.OPEN_STATUSES


def test_sms_edit_counts_segments(services) -> None:
    draft = seed_draft(services, channel=Channel.SMS)
    body = "Thank you for your order, it is packed with care."
    workflow.edit(services, draft.id, {"body": body}, "alice")
    stored = services.drafts.get(draft.id)
    assert "thank you for your order, it is packed with care." in stored.text
    assert stored.html is None


def test_regenerate_stores_model_version(services) -> None:
    draft = seed_draft(services)
    output = {
        "subject": "Your order is packed and on its way",
        "body": "Thank you for your order, packed with care.",
    }
    services.provider.outputs = [json.dumps(output)]
    version = workflow.regenerate(services, draft.id, "alice", "shorter please")
    assert version.number == 2
    assert version.origin == VersionOrigin.REGENERATE
    assert version.note == "shorter please"
    stored = services.drafts.get(draft.id)
    assert stored.id == draft.id
    assert stored.created_at == draft.created_at
    assert stored.fields["subject"] == output["subject"]
    assert services.drafts.history(draft.id)[-1].action == ReviewAction.REGENERATE
    prompt = " ".join(m.content for m in services.provider.calls[-1])
    assert "shorter please" in prompt


def test_regenerate_needs_note(services) -> None:
    draft = seed_draft(services)
    with pytest.raises(MissingReason):
        workflow.regenerate(services, draft.id, "alice", " ")


def test_regenerate_rejects_long_note(services) -> None:
    draft = seed_draft(services)
    with pytest.raises(InvalidEdit) as error:
        workflow.regenerate(services, draft.id, "alice", "x" * 501)
    assert "maximum is 500" in str(error.value)


def test_inline_customer_cannot_be_rechecked(services) -> None:
    draft = seed_draft(services).model_copy(update={"id": "inline1", "customer_id": "web-77"})
    services.drafts.save(draft)
    with pytest.raises(ContextUnavailable) as error:
        workflow.edit(services, "inline1", {"body": "Thank you, truly."}, "alice")
    assert "web-77" in str(error.value)


def test_review_request_edit_must_keep_purpose(services) -> None:
    output = json.dumps(
        {
            "subject": "How are you finding your new things?",
            "body": "We hope you are enjoying your order. Would you tell us what you think?",
        }
    )
    draft = seed_draft(services, kind=MessageKind.REVIEW_REQUEST, output=output)
    with pytest.raises(EditBlocked) as error:
        workflow.edit(services, draft.id, {"body": "We hope you are enjoying it."}, "alice")
    assert "content.purpose" in str(error.value)


def test_stale_edit_session_is_refused(services) -> None:
    draft = seed_draft(services)
    session = workflow.start_edit(services, draft.id)
    workflow.edit(services, draft.id, {"body": "Thank you for shopping with us today."}, "bob")
    text = session.text.replace(draft.fields["body"], "Thank you for your lovely order.")
    checked = workflow.check_edit(services, session, text)
    with pytest.raises(DraftChanged) as error:
        workflow.save_edit(services, session, checked, "alice")
    assert "expected version 1, found version 2" in str(error.value)
    assert services.drafts.get(draft.id).fields["body"] == "Thank you for shopping with us today."
