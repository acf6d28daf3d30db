"""`cartback preview`: a flow's messages rendered for a sample cart, with SMS encoding and cost,
every arm of its experiments and every language of its texts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

import phonenumbers

from cartback.config import Settings, StoreConfig
from cartback.domain import sms
from cartback.domain.durations import span
from cartback.domain.events import Channel, LineItem
from cartback.domain.experiments import Assignment, Experiment
from cartback.domain.flow import EndStep, Flow, SendStep, WaitStep
from cartback.domain.opt_out import opt_out_text, with_opt_out
from cartback.domain.phone import phone_country
from cartback.domain.records import Cart, CartStatus
from cartback.domain.signing import Signing
from cartback.domain.templates import default_texts
from cartback.engine.compose import Composer
from cartback.engine.discounting import label_for

SAMPLE_CODE = "AbCdEfGhIjKl"  # as long as a real short-link code
SAMPLE_TIME = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
Out = Callable[[str], None]


@dataclass(frozen=True)
class _Preview:
    settings: Settings
    store: StoreConfig
    cart: Cart
    out: Out

    def send_step(self, number: int, step: SendStep, condition: str) -> int:
        route = _route(self.settings, step)
        routed = f" (as {route})" if route and route != step.channel else ""
        self.out(f"\nstep {number}: send {step.channel}{routed}{condition}")
        if route is None:
            self.out(f"  no {step.channel} channel is configured: this step would be skipped")
            return 0
        if step.experiment is not None:
            return self.variants(step, step.experiment, route)
        _discount_line(step, "  ", self.out)
        warnings = self.languages(step, route, "  ")
        for guard, template in step.wordings:
            self.out(f"  for {guard.label}:")
            worded = replace(step, template=template, wordings=(), translations=())
            warnings += self.languages(worded, route, "    ")
        return warnings

    def variants(self, step: SendStep, experiment: Experiment, route: Channel) -> int:
        self.out(f"  A/B test {_describe(experiment)}")
        warnings = 0
        for arm in experiment.arms:
            self.out(f"  variant {arm.name} ({_share(experiment, arm.name)}):")
            variant = step.for_variant(arm.name)
            _discount_line(variant, "    ", self.out)
            warnings += self.languages(variant, route, "    ")
        return warnings

    def languages(self, step: SendStep, route: Channel, indent: str) -> int:
        if not step.translations:
            return self.render(self.defaulted(step, route), route, indent)
        warnings = 0
        for language in step.languages:
            translated, _ = step.in_language(language, None)
            self.out(f"{indent}in {language}:")
            warnings += self.render(translated, route, indent + "  ")
        return warnings

    def defaulted(self, step: SendStep, route: Channel) -> SendStep:
        """A step without a text gets the built-in one in the store's language."""
        if step.template is not None or route == Channel.EMAIL:
            return step
        _, texts = default_texts(None, self.store.locale)
        return replace(step, template=texts.short)

    def render(self, step: SendStep, route: Channel, indent: str) -> int:
        settings = self.settings
        sms_config = settings.channels.sms
        composer = Composer(
            settings.public_url,
            Signing(settings.signing_secret or settings.api_token),
            bool(sms_config and sms_config.transliterate),
        )
        message = composer.compose(
            message_id="preview",
            route=route,
            step=step,
            cart=self.cart,
            store_name=self.store.name,
            sender=None,
            link_code=SAMPLE_CODE,
            extra=_sample_discount(step, self.cart.currency),
            store_locale=self.store.locale,
        )
        if route == Channel.EMAIL:
            self.out(f"{indent}subject: {message.subject}")
            lines = message.text.splitlines()
            self.out(f"{indent}text:\n" + "\n".join(f"{indent}  {line}" for line in lines))
            return 0
        return self.sms_figures(message.text, indent)

    def sms_figures(self, text: str, indent: str) -> int:
        """The sample number's text and figures, then those with each other opt-out text."""
        texts = self.settings.policy.opt_out_texts()
        own = opt_out_text(phone_country(self.cart.phone) if self.cart.phone else None, texts)
        sample = with_opt_out(text, own)
        self.out(f"{indent}text: " + sample.replace("\n", f"\n{indent}      "))
        warnings = self.figures(sample, indent, "")
        for other in sorted(set(texts.values()) - {own}):
            countries = ", ".join(sorted(c for c, t in texts.items() if t == other))
            label = f"to {countries} numbers, with {other!r}: "
            warnings += self.figures(with_opt_out(text, other), indent, label)
        return warnings

    def figures(self, text: str, indent: str, label: str) -> int:
        info = sms.analyse(text)
        sms_config = self.settings.channels.sms
        rate = sms_config.cost_per_segment if sms_config else Decimal("0")
        cost = sms.segment_cost(info.segments, rate)
        plural = "s" if info.segments != 1 else ""
        currency = self.store.currency or self.cart.currency
        self.out(
            f"{indent}{label}{info.encoding}, {len(text)} characters ({info.units} units), "
            f"{info.segments} segment{plural}, cost {cost:.2f} {currency}"
        )
        if info.segments <= 1:
            return 0
        hint = (
            ""
            if info.encoding == sms.Encoding.GSM7
            else " (a character outside GSM-7 forces UCS-2)"
        )
        self.out(
            f"{indent}warning: this message needs {info.segments} segments{hint}; "
            "shorten it to fit one"
        )
        return 1


def preview(settings: Settings, flow_id: str, out: Out) -> int:
    flow = next((f for f in settings.domain_flows() if f.id == flow_id), None)
    if flow is None:
        known = ", ".join(f.id for f in settings.domain_flows()) or "none"
        out(f"cartback: no flow {flow_id!r} in the config (flows: {known})")
        return 2
    store = settings.store(flow.store_id)
    if store is None:  # the config validates that a flow's store exists
        out(f"cartback: flow {flow.id} names store {flow.store_id!r}, which is not configured")
        return 2
    cart = _sample_cart(store)
    wait = span(flow.abandon_after)
    out(f"flow {flow.id} (store {store.id}), entered {wait} after the cart's last update")
    out(f"sample cart: {cart.first_name}, {cart.phone}, {cart.total} {cart.currency}")
    if flow.guard is not None:
        out(f"the flow takes carts for which {flow.guard.label} holds")
    _holdout_and_timing(flow, out)
    shown = _Preview(settings, store, cart, out)
    warnings = 0
    for number, step in enumerate(flow.steps, start=1):
        condition = f" (if {step.guard.label})" if step.guard is not None else ""
        if isinstance(step, WaitStep):
            out(f"\nstep {number}: wait {span(step.duration)}{condition}")
        elif isinstance(step, EndStep):
            out(f"\nstep {number}: end the flow{condition}: {step.reason}")
        else:
            warnings += shown.send_step(number, step, condition)
    return 1 if warnings else 0


def _holdout_and_timing(flow: Flow, out: Out) -> None:
    if flow.holdout is not None:
        share = f"{(flow.holdout.share * 100).normalize():f}%"
        out(f"holdout: {share} of carts get no message, to measure what the flow adds")
    if flow.experiment is None:
        return
    out(f"timing test {_describe(flow.experiment)}")
    for timing in flow.timings:
        timed = flow.for_cart("", _only(flow.experiment, timing.arm))
        waits = [
            f"step {n} waits {span(s.duration)}"
            for n, s in enumerate(timed.steps, start=1)
            if isinstance(s, WaitStep) and n - 1 in dict(timing.waits)
        ]
        detail = ", ".join([f"entered after {span(timed.abandon_after)}", *waits])
        out(f"  arm {timing.arm} ({_share(flow.experiment, timing.arm)}): {detail}")


def _only(experiment: Experiment, arm: str) -> Assignment:
    return Assignment(False, ((experiment.id, arm),))


def _describe(experiment: Experiment) -> str:
    winner = ", new carts go to the winner once called" if experiment.auto_winner else ""
    return (
        f"{experiment.id}: compared by {experiment.goal.replace('_', ' ')}, a winner needs "
        f"{experiment.min_carts_per_arm} carts per arm{winner}"
    )


def _share(experiment: Experiment, name: str) -> str:
    total = sum(arm.weight for arm in experiment.arms)
    weight = next(arm.weight for arm in experiment.arms if arm.name == name)
    return f"{weight / total:.0%} of carts"


def _discount_line(step: SendStep, indent: str, out: Out) -> None:
    if step.discount is not None:
        out(f"{indent}discount: {step.discount.kind} {step.discount.value}, when its rule holds")


def _sample_discount(step: SendStep, currency: str) -> dict[str, str]:
    rule = step.discount
    if rule is None:
        return {}
    return {"discount_code": "BACK-7KQ2-M9XD", "discount": label_for(rule, currency)}


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
