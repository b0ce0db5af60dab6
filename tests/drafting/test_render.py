from datetime import UTC, datetime, timedelta
from decimal import Decimal

from agent.config import Settings
from agent.domain import Channel, CustomerContext, MessageKind, Order, OrderLine, OrderStatus
from agent.drafting.render import Tip, display_name, render_message
from agent.guardrails.sms import count_sms
from agent.knowledge.brand import load_brand

FIELDS = {
    "subject": "Your order is on its way",
    "body": "Thank you for your order.",
    "call_to_action": "View your order",
}
PLACED = datetime(2011, 12, 1, 9, 30, tzinfo=UTC)


def make_context(first_name: str | None = "Zoë", delivered: bool = True) -> CustomerContext:
    order = Order(
        order_id="579777",
        placed_at=PLACED,
        status=OrderStatus.DELIVERED if delivered else OrderStatus.SHIPPED,
        delivered_at=PLACED + timedelta(days=3) if delivered else None,
        delivery_estimated=True,
        lines=[
            OrderLine(
                stock_code="85123A",
                description="WHITE HANGING HEART T-LIGHT HOLDER",
                quantity=6,
                unit_price=Decimal("2.55"),
            )
        ],
    )
    return CustomerContext(customer_id="17850", first_name=first_name, orders=[order])


def render(kind=MessageKind.ORDER_FOLLOWUP, channel=Channel.EMAIL, context=None, **kwargs):
    settings = Settings()
    brand = load_brand(settings.kb_dir, settings.default_brand)
    fields = FIELDS if channel == Channel.EMAIL else {"body": FIELDS["body"]}
    return brand, render_message(
        settings.templates_dir,
        kind=kind,
        channel=channel,
        brand=brand,
        context=context or make_context(),
        fields=fields,
        **kwargs,
    )


def test_display_name_title_cases() -> None:
    assert (
        display_name("WHITE HANGING HEART T-LIGHT HOLDER") == "White Hanging Heart T-Light Holder"
    )


def test_display_name_keeps_small_words_lower() -> None:
    assert display_name("SET OF 3 CAKE TINS") == "Set of 3 Cake Tins"


def test_greeting_uses_first_name() -> None:
    _, message = render()
    assert message.text.startswith("Hi Zoë,")


def test_greeting_neutral_without_name() -> None:
    _, message = render(context=make_context(first_name=None))
    assert message.text.startswith("Hello,")


def test_html_escapes_first_name() -> None:
    _, message = render(context=make_context(first_name="Ann & Bo"))
    assert "Hi Ann &amp; Bo," in message.html


def test_markup_name_greets_neutrally() -> None:
    _, message = render(context=make_context(first_name="<script>x</script>"))
    assert "<script>x" not in message.html
    assert message.text.startswith("Hello,")


def test_followup_states_reference_and_status() -> None:
    _, message = render()
    assert "Order 579777" in message.text
    assert "Should have arrived by 4 December 2011" in message.text


def test_followup_in_transit_states_expected_date() -> None:
    _, message = render(context=make_context(delivered=False))
    assert "On its way, should arrive by" in message.text


def test_followup_past_expected_date_reads_late() -> None:
    late = PLACED + timedelta(days=14)
    _, message = render(context=make_context(delivered=False), as_of=late)
    assert "Running late: it should have arrived by" in message.text
    assert "should arrive by" not in message.text


def test_followup_sms_past_expected_date_reads_late() -> None:
    late = PLACED + timedelta(days=14)
    _, message = render(channel=Channel.SMS, context=make_context(delivered=False), as_of=late)
    assert "is running late; it should have arrived by" in message.text


def test_transactional_email_has_no_unsubscribe() -> None:
    _, message = render()
    assert "Unsubscribe" not in message.text


def test_marketing_email_has_footer() -> None:
    brand, message = render(kind=MessageKind.WINBACK, offer="10% off your next order")
    assert brand.postal_address in message.text
    assert "Unsubscribe" in message.text
    assert "nothing to type in" in message.text
    assert "code" not in message.text.lower()


def test_usage_tip_quotes_tip_verbatim() -> None:
    tip = Tip(
        product="White Hanging Heart T-Light Holder", text="Never leave a lit candle unattended."
    )
    _, message = render(kind=MessageKind.USAGE_TIP, tip=tip)
    assert "Never leave a lit candle unattended." in message.text


def test_marketing_sms_has_stop_and_sender() -> None:
    brand, message = render(kind=MessageKind.REVIEW_REQUEST, channel=Channel.SMS)
    assert message.text.startswith(f"{brand.sms_sender}:")
    assert message.text.endswith("Reply STOP to opt out")


def test_followup_sms_fits_brand_segments() -> None:
    brand, message = render(channel=Channel.SMS)
    assert "Order 579777" in message.text
    assert count_sms(message.text).segments <= brand.sms_max_segments


def test_sms_greets_neutrally_for_non_gsm_name() -> None:
    _, message = render(channel=Channel.SMS, context=make_context(first_name="Zoë"))
    assert ": Hello," in message.text
    assert count_sms(message.text).encoding == "GSM-7"


def test_sms_keeps_gsm_name() -> None:
    _, message = render(channel=Channel.SMS, context=make_context(first_name="José"))
    assert ": Hi José," in message.text


def test_email_signs_off_as_brand_voice_says() -> None:
    brand, message = render()
    assert f"Warm wishes,\n{brand.sign_off}" in message.text
