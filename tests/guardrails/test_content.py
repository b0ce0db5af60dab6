from agent.domain import MessageKind
from agent.guardrails.content import check_purpose
from tests.guardrails.factories import make_fields, make_input


def test_review_request_without_ask_blocked() -> None:
    body = "We hope you are enjoying your bag. A few words of encouragement would be appreciated."
    inp = make_input(kind=MessageKind.REVIEW_REQUEST, fields=make_fields(body=body))
    assert [f.check_id for f in check_purpose(inp)] == ["content.purpose"]


def test_review_request_with_ask_passes() -> None:
    body = "We hope you are enjoying your bag. Your honest review helps other shoppers."
    inp = make_input(kind=MessageKind.REVIEW_REQUEST, fields=make_fields(body=body))
    assert check_purpose(inp) == []


def test_usage_tip_must_mention_tip() -> None:
    body = "We hope you are enjoying your lunch bag."
    inp = make_input(kind=MessageKind.USAGE_TIP, fields=make_fields(body=body))
    assert check_purpose(inp)[0].field == "body"


def test_winback_has_no_required_words() -> None:
    body = "It has been a while and we would love to welcome you back."
    inp = make_input(kind=MessageKind.WINBACK, fields=make_fields(body=body))
    assert check_purpose(inp) == []
