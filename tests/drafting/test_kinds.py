import pytest

from agent.domain import Channel, MessageKind
from agent.drafting.kinds import UnsupportedKind, slot_schema, spec_for


@pytest.mark.parametrize(
    "kind",
    [
        MessageKind.ORDER_FOLLOWUP,
        MessageKind.USAGE_TIP,
        MessageKind.REVIEW_REQUEST,
        MessageKind.WINBACK,
    ],
)
def test_email_schema_has_subject_and_body(kind: MessageKind) -> None:
    schema = slot_schema(kind, Channel.EMAIL, None)
    assert schema.field_names() == ["subject", "body"]


def test_sms_schema_has_body_only() -> None:
    schema = slot_schema(MessageKind.ORDER_FOLLOWUP, Channel.SMS, None)
    assert schema.field_names() == ["body"]


def test_offer_is_verbatim_body_suffix() -> None:
    schema = slot_schema(MessageKind.WINBACK, Channel.EMAIL, "10% off your next order")
    body = schema.slots[1]
    assert body.suffix.endswith("enjoy 10% off your next order.")


def test_unsupported_kind_names_supported_ones() -> None:
    with pytest.raises(UnsupportedKind) as error:
        spec_for(MessageKind.LOYALTY_UPDATE)
    assert "order_followup" in str(error.value)
