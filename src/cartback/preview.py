"""`cartback preview`: a flow's messages rendered for a sample cart, with SMS encoding and cost."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import phonenumbers

from cartback.channels.unsubscribe import key_from
from cartback.config import Settings, StoreConfig
from cartback.domain import sms
from cartback.domain.events import Channel
from cartback.domain.flow import EndStep, SendStep, WaitStep
from cartback.engine.compose import Composer

SAMPLE_CODE = "AbCdEfGhIjKl"  # as long as a real short-link code


@dataclass(frozen=True)
class SampleCart:
    """Stands in for a stored cart: the attributes the composer reads."""

    store_id: str
    currency: str
    phone: str
    first_name: str = "Astrid"
    last_name: str = "Jensen"
    email: str = "astrid@example.com"
    total: Decimal = Decimal("798.00")
    items: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"title": "Merino sweater", "quantity": 1, "price": "599.00", "image_url": None},
            {"title": "Wool socks", "quantity": 2, "price": "99.50", "image_url": None},
        ]
    )


def preview(settings: Settings, flow_id: str, out: Callable[[str], None]) -> int:
    flow = next((f for f in settings.domain_flows() if f.id == flow_id), None)
    if flow is None:
        known = ", ".join(f.id for f in settings.domain_flows()) or "none"
        out(f"cartback: no flow {flow_id!r} in the config (flows: {known})")
        return 2
    store = settings.store(flow.store_id)
    if store is None:  # the config refuses this already; said plainly all the same
        out(f"cartback: flow {flow_id!r} names store {flow.store_id!r}, which is not configured")
        return 2
    cart = _sample_cart(store)
    wait = _span(flow.abandon_after)
    out(f"flow {flow.id} (store {store.id}), entered {wait} after the cart's last update")
    out(f"sample cart: {cart.first_name}, {cart.phone}, {cart.total} {cart.currency}")
    warnings = 0
    if flow.guard is not None:
        out(f"the flow takes carts for which {flow.guard.label} holds")
    for number, step in enumerate(flow.steps, start=1):
        condition = f" (if {step.guard.label})" if step.guard is not None else ""
        if isinstance(step, WaitStep):
            out(f"\nstep {number}: wait {_span(step.duration)}{condition}")
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
    cart: SampleCart,
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
    label = (
        f"{rule.value.normalize():f}%"
        if rule.kind == "percentage"
        else f"{rule.value:.2f} {currency}"
    )
    return {"discount_code": "BACK-7KQ2-M9XD", "discount": label}


def _sms_figures(
    settings: Settings, store: StoreConfig, cart: SampleCart, text: str, out: Callable[[str], None]
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


def _sample_cart(store: StoreConfig) -> SampleCart:
    region = store.default_country or "DK"
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    phone = (
        phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        if example
        else "+4520123456"
    )
    return SampleCart(store_id=store.id, currency=store.currency or "DKK", phone=phone)


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
