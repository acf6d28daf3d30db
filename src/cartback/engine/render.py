"""Message templates: Jinja2 in a sandbox, with a built-in default per channel."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from cartback.domain.events import Channel

_SHORT = (
    "Hi {{ first_name }}, your basket at {{ store_name }} is saved. Finish your order: {{ link }}"
)
DEFAULT_TEMPLATES: Mapping[Channel, str] = {
    # One GSM-7 segment with a store name of up to ~40 characters and a 40-character link.
    Channel.SMS: _SHORT,
    Channel.RCS: _SHORT,
    Channel.EMAIL: (
        "Hi {{ first_name }},\n\nYou left something in your basket at {{ store_name }}. "
        "It is saved for you:\n\n{{ link }}\n\nSee you soon,\n{{ store_name }}"
    ),
}
DEFAULT_SUBJECT = "Your basket at {{ store_name }} is waiting"

_env = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)
_space_before_punct = re.compile(r"\s+([,.!?])")


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    subject: str | None


def render(channel: Channel, template: str | None, context: Mapping[str, Any]) -> Rendered:
    source = template if template is not None else DEFAULT_TEMPLATES[channel]
    text = _tidy(_env.from_string(source).render(**context))
    subject = (
        _tidy(_env.from_string(DEFAULT_SUBJECT).render(**context))
        if channel == Channel.EMAIL
        else None
    )
    return Rendered(text, subject)


def _tidy(text: str) -> str:
    """Close the gap a missing first name leaves ("Hi , ..." becomes "Hi, ...")."""
    return _space_before_punct.sub(r"\1", text).strip()


def check_template(template: str) -> None:
    """Raise jinja2.TemplateSyntaxError for a template that cannot be compiled."""
    _env.from_string(template)
