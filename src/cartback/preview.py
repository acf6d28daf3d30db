"""`cartback preview`: a flow's messages rendered for a sample cart, with SMS encoding and cost."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import phonenumbers

from cartback.channels.unsubscribe import key_from
from cartback.config import Settings, StoreConfig
from cartback.domain import sms
from cartback.domain.durations import span
from cartback.domain.events import Channel, LineItem
from cartback.domain.flow import EndStep, SendStep, WaitStep
from cartback.domain.records import Cart, CartStatus
from cartback.engine.compose import Composer
from cartback.engine.discounting import label_for

SAMPLE_CODE = "AbCdEfGhIjKl"  # as long as a real short-link code
SAMPLE_TIME = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def preview(settings: Settings, flow_id: str, out: Callable[[str], None]) -> int:
    flow = next((f for f in settings.domain_flows() if f.id == flow_id), None)
    if flow is None:
        known = ", ".join(f.id for f in settings.domain_flows()) or "none"
        out(f"cartback: no flow {flow_id!r} in the config (flows: {known})")
        return 2
    store = settings.store(flow.store_id)
    assert store is not None  # the config validates that a flow's store exists
    cart = _sample_cart(store)
    wait = span(flow.abandon_after)
    out(f"flow {flow.id} (store {store.id}), entered {wait} after the cart's last update")
    out(f"sample cart: {cart.first_name}, {cart.phone}, {cart.total} {cart.currency}")
    warnings = 0
    if flow.guard is not None:
        out(f"the flow takes carts for which {flow.guard.label} holds")
    for number, step in enumerate(flow.steps, start=1):
        condition = f" (if {step.guard.label})" if step.guard is not None else ""
        if isinstance(step, WaitStep):
            out(f"\nstep {number}: wait {span(step.duration)}{condition}")
        elif isinstance(step, EndStep):
            out(f"\nstep {number}: end the flow{condition}: {step.reason}")
        else:
            warnings += _send_step(settings, store, cart, number, step, out, condition)
            for guard, template in step.variants:
                variant = replace(step, template=template, variants=())
                out(f"  for {guard.label}:")
                warnings += _send_step(settings, store, cart, number, variant, out, "", quiet=True)
    return 1 if warnings else 0


def _send_step(
    settings: Settings,
    store: StoreConfig,
    cart: Cart,
    number: int,
    step: SendStep,
    out: Callable[[str], None],
    condition: str = "",
    *,
    quiet: bool = False,
) -> int:
    route = _route(settings, step)
    if not quiet:
        routed = f" (as {route})" if route and route != step.channel else ""
        out(f"\nstep {number}: send {step.channel}{routed}{condition}")
        if step.discount is not None:
            out(f"  discount: {step.discount.kind} {step.discount.value}, when its rule holds")
    if route is None:
        out(f"  no {step.channel} channel is configured: this step would be skipped")
        return 0
    composer = Composer(settings.public_url, key_from(settings.api_token), _transliterate(settings))
    message = composer.compose(
        message_id="preview",
        route=route,
        step=step,
        cart=cart,
        store_name=store.name,
        sender=None,
        link_code=SAMPLE_CODE,
        extra=_sample_discount(step, cart.currency),
    )
    if route == Channel.EMAIL:
        out(f"  subject: {message.subject}")
        out("  text:\n" + "\n".join("    " + line for line in message.text.splitlines()))
        return 0
    return _sms_figures(settings, store, cart, message.text, out)


def _sample_discount(step: SendStep, currency: str) -> dict[str, str]:
    rule = step.discount
    if rule is None:
        return {}
    return {"discount_code": "BACK-7KQ2-M9XD", "discount": label_for(rule, currency)}


def _sms_figures(
    settings: Settings, store: StoreConfig, cart: Cart, text: str, out: Callable[[str], None]
) -> int:
    info = sms.analyse(text)
    rate = settings.channels.sms.cost_per_segment if settings.channels.sms else Decimal("0")
    cost = sms.segment_cost(info.segments, rate)
    plural = "s" if info.segments != 1 else ""
    out(f"  text: {text}")
    out(
        f"  {info.encoding}, {len(text)} characters ({info.units} units), "
        f"{info.segments} segment{plural}, cost {cost:.2f} {store.currency or cart.currency}"
    )
    if info.segments > 1:
        hint = (
            ""
            if info.encoding == sms.Encoding.GSM7
            else " (a character outside GSM-7 forces UCS-2)"
        )
        out(f"  warning: this message needs {info.segments} segments{hint}; shorten it to fit one")
        return 1
    return 0


def _route(settings: Settings, step: SendStep) -> Channel | None:
    sms_config, email = settings.channels.sms, settings.channels.email
    available = set()
    if sms_config is not None:
        available.add(Channel.SMS)
        if sms_config.provider == "twilio" and sms_config.messaging_service_sid:
            available.add(Channel.RCS)
    if email is not None:
        available.add(Channel.EMAIL)
    if step.channel in available:
        return step.channel
    if step.channel == Channel.RCS and step.fallback == Channel.SMS and Channel.SMS in available:
        return Channel.SMS
    return None


def _transliterate(settings: Settings) -> bool:
    return bool(settings.channels.sms and settings.channels.sms.transliterate)


def _sample_cart(store: StoreConfig) -> Cart:
    region = store.default_country or "DK"
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    phone = (
        phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        if example
        else "+4520123456"
    )
    return Cart(
        id=0,
        store_id=store.id,
        cart_key="preview",
        currency=store.currency or "DKK",
        total=Decimal("798.00"),
        occurred_at=SAMPLE_TIME,
        last_activity_at=SAMPLE_TIME,
        phone=phone,
        email="astrid@example.com",
        first_name="Astrid",
        last_name="Jensen",
        items=(
            LineItem("Merino sweater", 1, Decimal("599.00")),
            LineItem("Wool socks", 2, Decimal("99.50")),
        ),
        status=CartStatus.OPEN,
        update_count=1,
        created_at=SAMPLE_TIME,
        updated_at=SAMPLE_TIME,
    )
