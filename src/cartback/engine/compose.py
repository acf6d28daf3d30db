"""Composing a message for a step: the text (Jinja2 in a sandbox, with a built-in default per
channel), and for email and RCS the rich parts."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import Template
from jinja2.sandbox import SandboxedEnvironment

from cartback.channels.base import LineItemView, OutgoingMessage, RichContent
from cartback.channels.unsubscribe import key_from, make_token
from cartback.domain import sms
from cartback.domain.events import Channel, LineItem
from cartback.domain.flow import SendStep
from cartback.domain.opt_out import opt_out_text, with_opt_out
from cartback.domain.phone import phone_country
from cartback.domain.records import Cart, item_json
from cartback.domain.signing import Signing
from cartback.domain.templates import DEFAULT_TEXTS, default_texts, normalise_language
from cartback.engine.email_content import render_email

_ENGLISH = DEFAULT_TEXTS["en"]  # what `render` falls back on without a template
DEFAULT_TEMPLATES: Mapping[Channel, str] = {
    Channel.SMS: _ENGLISH.short,
    Channel.RCS: _ENGLISH.short,
    Channel.EMAIL: _ENGLISH.email_text,
}
DEFAULT_SUBJECT = _ENGLISH.email_subject

_env = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)
_space_before_punct = re.compile(r"\s+([,.!?])")


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    subject: str | None


def render(channel: Channel, template: str | None, context: Mapping[str, Any]) -> Rendered:
    source = template if template is not None else DEFAULT_TEMPLATES[channel]
    text = _tidy(_compiled(source).render(**context))
    subject = (
        _tidy(_compiled(DEFAULT_SUBJECT).render(**context)) if channel == Channel.EMAIL else None
    )
    return Rendered(text, subject)


@lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    """Compiled once per template: a flow's few templates serve every message."""
    return _env.from_string(source)


def _tidy(text: str) -> str:
    """Close the gap a missing first name leaves ("Hi , ..." becomes "Hi, ...")."""
    return _space_before_punct.sub(r"\1", text).strip()


def check_template(template: str) -> None:
    """Raise jinja2.TemplateSyntaxError for a template that cannot be compiled."""
    _env.from_string(template)


@dataclass(frozen=True, slots=True)
class Composer:
    public_url: str
    signing: Signing  # unsubscribe links are signed with its secret
    transliterate: bool = False
    unsubscribe_mailto: str | None = None
    # Country (or "*") -> the opt-out text appended to every SMS (see domain.opt_out).
    opt_out: Mapping[str, str] = field(default_factory=dict)

    def compose(
        self,
        *,
        message_id: str,
        route: Channel,
        step: SendStep,
        cart: Cart,
        store_name: str,
        sender: str | None,
        link_code: str,
        extra: Mapping[str, Any] | None = None,
        store_locale: str | None = None,
    ) -> OutgoingMessage:
        """`extra` adds template variables (the discount's `discount_code` and `discount`);
        `store_locale` is the language of a cart without one of its own."""
        link = f"{self.public_url}/r/{link_code}"
        extra = dict(extra or {})
        step, language = localised(step, route, cart.locale, store_locale)
        if route == Channel.EMAIL:
            email = self._email(message_id, step, cart, store_name, sender, link, extra, language)
            return with_open_pixel(email, f"{self.public_url}/o/{link_code}")
        phone = _address(cart.phone, cart, "phone number")
        country = phone_country(phone)
        opt_out = opt_out_text(country, self.opt_out)
        text = with_opt_out(self._short_text(route, step, cart, store_name, link, extra), opt_out)
        if route != Channel.RCS:
            return OutgoingMessage(message_id, route, phone, sender, text, country=country)
        rich = RichContent(
            title=step.title or store_name,
            image_url=step.image_url or _first_image(cart.items),
            button_text=step.button or "Open your basket",
            button_url=link,
        )
        fallback = with_opt_out(
            self._short_text(Channel.SMS, step, cart, store_name, link, extra), opt_out
        )
        return OutgoingMessage(
            message_id,
            route,
            phone,
            sender,
            text,
            country=country,
            rich=rich,
            fallback_text=fallback,
        )

    def _short_text(
        self,
        channel: Channel,
        step: SendStep,
        cart: Cart,
        store_name: str,
        link: str,
        extra: dict[str, Any],
    ) -> str:
        context = {**_context(cart, store_name, link), **extra}
        text = render(channel, step.template, context).text
        return sms.transliterate(text) if self.transliterate else text

    def _email(
        self,
        message_id: str,
        step: SendStep,
        cart: Cart,
        store_name: str,
        sender: str | None,
        link: str,
        extra: dict[str, Any],
        language: str,
    ) -> OutgoingMessage:
        email = _address(cart.email, cart, "email address")
        token = make_token(key_from(self.signing.secret), cart.store_id, email)
        unsubscribe_url = f"{self.public_url}/u/{token}"
        rendered = render_email(
            store_name=store_name,
            first_name=cart.first_name or "",
            link=link,
            items=line_items(cart),
            total=cart.total,
            currency=cart.currency,
            unsubscribe_url=unsubscribe_url,
            text_template=step.template,
            html_template=step.html_template,
            subject_template=step.subject,
            extra=extra,
            language=language,
        )
        rich = RichContent(
            html=rendered.html,
            items=line_items(cart),
            unsubscribe_url=unsubscribe_url,
            unsubscribe_mailto=self.unsubscribe_mailto,
        )
        return OutgoingMessage(
            message_id,
            Channel.EMAIL,
            email,
            sender or store_name,
            rendered.text,
            subject=rendered.subject,
            rich=rich,
        )


def localised(
    step: SendStep, route: Channel, locale: str | None, store_locale: str | None
) -> tuple[SendStep, str]:
    """The step in the buyer's language, and that language. A step written in several languages
    gives the cart's, else the store's, else its first; one written once is sent as it is (in
    the store's language, as far as we know); a step without a text gets the built-in one in
    the buyer's language, else the store's, else English."""
    translated, language = step.in_language(locale, store_locale)
    if language is not None:
        return translated, language
    if step.template is not None:
        return step, normalise_language(store_locale) if store_locale else "en"
    language, texts = default_texts(locale, store_locale)
    if route == Channel.EMAIL:  # the built-in email, in its words for that language
        return step, language
    return replace(step, template=texts.short), language


def with_open_pixel(email: OutgoingMessage, pixel_url: str) -> OutgoingMessage:
    """The email's HTML with a 1x1 image from `/o/{link code}`: the open it records (people's
    only, see `domain/bots.py`) is what `if: {opened: email}` asks about."""
    rich = email.rich
    if rich is None or rich.html is None:
        return email
    image = f'<img src="{pixel_url}" width="1" height="1" alt="" style="display:block">'
    html = rich.html
    at = html.lower().rfind("</body>")
    html = html[:at] + image + html[at:] if at >= 0 else html + image
    return replace(email, rich=replace(rich, html=html))


def _address(value: str | None, cart: Cart, what: str) -> str:
    if not value:  # the policy sends nothing to a cart without the address
        raise ValueError(f"cart {cart.id} has no {what} to send to")
    return value


def line_items(cart: Cart) -> tuple[LineItemView, ...]:
    return tuple(
        LineItemView(
            title=item.title,
            quantity=item.quantity,
            price=item.price,
            currency=cart.currency,
            image_url=item.image_url,
        )
        for item in cart.items
    )


def _first_image(items: Sequence[LineItem]) -> str | None:
    return next((item.image_url for item in items if item.image_url), None)


def _context(cart: Cart, store_name: str, link: str) -> dict[str, Any]:
    return {
        "first_name": cart.first_name or "",
        "last_name": cart.last_name or "",
        "store_name": store_name,
        "link": link,
        "total": cart.total,
        "currency": cart.currency,
        "items": [item_json(item) for item in cart.items],
    }


def sms_figures(
    channel: Channel, text: str, per_segment: Decimal
) -> tuple[int, str | None, Decimal]:
    """Segments, encoding and cost; email costs nothing per message here."""
    if channel not in (Channel.SMS, Channel.RCS):
        return 0, None, Decimal("0")
    info = sms.analyse(text)
    return info.segments, str(info.encoding), sms.segment_cost(info.segments, per_segment)
