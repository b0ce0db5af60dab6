import pytest

from agent.domain import Channel, MessageKind
from agent.drafting.kinds import UnsupportedKind, recovery_spec, slot_schema, spec_for


@pytest.mark.parametrize(
    "kind",
    [
        MessageKind.ORDER_FOLLOWUP,
        MessageKind.USAGE_TIP,
        MessageKind.REVIEW_REQUEST,
        MessageKind.WINBACK,
        MessageKind.LOYALTY_UPDATE,
        MessageKind.REFERRAL_INVITE,
        MessageKind.SERVICE_RECOVERY,
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


def test_unknown_variant_names_known_ones() -> None:
    with pytest.raises(UnsupportedKind) as error:
        spec_for(MessageKind.REFERRAL_INVITE, "poster")
    assert "ugc" in str(error.value)


def test_recovery_spec_opens_with_problem() -> None:
    spec = recovery_spec("we sent you the wrong item")
    schema = slot_schema(MessageKind.SERVICE_RECOVERY, Channel.SMS, None, spec=spec)
    assert schema.slots[0].prefix == "We are sorry that we sent you the wrong item,"
