"""Rebuilding the facts a stored draft was rendered with, and checking edited fields."""

from datetime import timedelta

from agent.domain import Channel
from agent.review.recheck import check_fields, drafting_facts
from tests.review.helpers import DISCOUNT_BODY, latest_moment, seed_draft


def test_facts_reproduce_stored_text(services) -> None:
    draft = seed_draft(services)
    facts = drafting_facts(services, draft)
    assert facts.reproduced
    assert facts.as_of <= latest_moment(services)


def test_facts_at_pinned_moment(services) -> None:
    draft = seed_draft(services)
    facts = drafting_facts(services, draft, latest_moment(services))
    assert facts.reproduced
    assert facts.as_of == latest_moment(services)


def test_wrong_moment_is_reported(services) -> None:
    draft = seed_draft(services)
    later = latest_moment(services) + timedelta(days=60)
    facts = drafting_facts(services, draft, later)
    assert not facts.reproduced


def test_unchanged_fields_give_stored_message(services) -> None:
    draft = seed_draft(services)
    facts = drafting_facts(services, draft)
    checked = check_fields(services, facts, draft, dict(draft.fields))
    assert checked.draft.text == draft.text
    assert checked.draft.html == draft.html
    assert checked.draft.status == draft.status


def test_discount_edit_blocks(services) -> None:
    draft = seed_draft(services)
    facts = drafting_facts(services, draft)
    checked = check_fields(services, facts, draft, draft.fields | {"body": DISCOUNT_BODY})
    ids = {f.check_id for f in checked.blocking}
    assert "offers.discount" in ids
    assert "offers.code" in ids
    assert checked.draft.status == "blocked"


def test_sms_facts_reproduce(services) -> None:
    draft = seed_draft(services, channel=Channel.SMS)
    assert drafting_facts(services, draft).reproduced
