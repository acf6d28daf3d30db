"""The recovery email: subject, plain text and HTML, from built-in or user templates.

Templates run in a Jinja2 sandbox. HTML is autoescaped, so a product called `<script>` shows
as text; the plain-text part and the subject are not escaped (they are not HTML).
Every template gets the same variables: first_name, store_name, link, items (title, quantity,
price, currency, image_url), total, currency, unsubscribe_url. Amounts arrive as strings with
two decimals ("12.50").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from jinja2 import Template
from jinja2.sandbox import SandboxedEnvironment

from cartback.channels.base import LineItemView
from cartback.domain.templates import DEFAULT_TEXTS

TEXT_TEMPLATE = "basket_email.txt.j2"
HTML_TEMPLATE = "basket_email.html.j2"

_html_env = SandboxedEnvironment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
_text_env = SandboxedEnvironment(autoescape=False, trim_blocks=True, lstrip_blocks=True)
_space_before_punct = re.compile(r"[ \t]+([,.!?])")
_blank_lines = re.compile(r"\n{3,}")


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(
    *,
    store_name: str,
    first_name: str,
    link: str,
    items: Sequence[LineItemView],
    total: Decimal,
    currency: str,
    unsubscribe_url: str,
    text_template: str | None,
    html_template: str | None,
    subject_template: str | None,
    extra: Mapping[str, Any] | None = None,
    language: str = "en",
) -> RenderedEmail:
    """`language` (a tag such as `da`) is the HTML's `lang`, and chooses the built-in email's
    words and default subject where they exist in it (`domain.templates.DEFAULT_TEXTS`)."""
    texts = DEFAULT_TEXTS.get(language.split("-")[0]) or DEFAULT_TEXTS["en"]
    context = {
        **(extra or {}),
        "lang": language,
        "words": texts.email_words,
        "store_name": store_name,
        "first_name": first_name.strip(),
        "link": link,
        "items": [_item(item) for item in items],
        "total": format_amount(total),
        "currency": currency,
        "unsubscribe_url": unsubscribe_url,
    }
    subject = _text(subject_template or texts.email_subject).render(context)
    return RenderedEmail(
        subject=" ".join(_tidy(subject).split()),
        text=_tidy(_text(text_template).render(context)),
        html=_html(html_template).render(context),
    )


def format_amount(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _item(item: LineItemView) -> Mapping[str, Any]:
    return {
        "title": item.title,
        "quantity": item.quantity,
        "price": format_amount(item.price),
        "currency": item.currency,
        "image_url": item.image_url if _is_web_url(item.image_url) else None,
    }


def _is_web_url(url: str | None) -> bool:
    return url is not None and url.lower().startswith(("https://", "http://"))


@lru_cache(maxsize=256)
def _text(source: str | None) -> Template:
    """Compiled once per template: a flow's few templates serve every message."""
    return _builtin_text() if source is None else _text_env.from_string(source)


@lru_cache(maxsize=256)
def _html(source: str | None) -> Template:
    return _builtin_html() if source is None else _html_env.from_string(source)


@cache
def _builtin_text() -> Template:
    return _text_env.from_string(_read_builtin(TEXT_TEMPLATE))


@cache
def _builtin_html() -> Template:
    return _html_env.from_string(_read_builtin(HTML_TEMPLATE))


def _read_builtin(name: str) -> str:
    return (
        resources.files("cartback").joinpath("templates").joinpath(name).read_text(encoding="utf-8")
    )


def _tidy(text: str) -> str:
    """Close the gap a missing first name leaves ("Hi , ..."), drop runs of blank lines."""
    return _blank_lines.sub("\n\n", _space_before_punct.sub(r"\1", text)).strip()
