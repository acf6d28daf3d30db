"""The flows' texts, looked at before anything is sent.

A text that does not compile is a config error, named by its key and line: sent, it would fail
every run of its step. What compiles but goes wrong quietly is a warning (`cartback check`, and
the summary `serve` and `worker` print): an SMS with no `{{ link }}` carries no way back to the
basket; a name no message has (`{{ frist_name }}`) comes out empty; `{link}` comes out as the
five characters `{link}`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from cartback.config.base import _KeyedError
from cartback.domain.events import Channel

# What every message's text is rendered with (engine/compose.py), with a discount's words.
SHORT_NAMES = frozenset(
    {
        "first_name",
        "last_name",
        "store_name",
        "link",
        "total",
        "currency",
        "items",
        "discount_code",
        "discount",
    }
)
# An email's text, subject and HTML have these too (engine/email_content.py).
EMAIL_NAMES = SHORT_NAMES | {"lang", "words", "unsubscribe_url"}

_ENV = SandboxedEnvironment()
_ONE_BRACE = re.compile(r"(?<!\{)\{\s*(\w+)\s*\}(?!\})")


def check_syntax(text: str | Mapping[str, str] | None, *at: str | int) -> None:
    """Raise `_KeyedError` at `at` (the language's key too, for a text per language) when a
    text does not compile."""
    for key, one in _each(text):
        try:
            _ENV.parse(one)
        except TemplateSyntaxError as exc:
            where = f" (line {exc.lineno} of the text)" if "\n" in one else ""
            raise _KeyedError(
                f"the text does not compile: {exc.message}{where}", *at, *key
            ) from None


def text_warnings(text: str | Mapping[str, str] | None, channel: Channel, where: str) -> list[str]:
    """What is wrong with a text that compiles; `where` names it in the warning."""
    found = []
    names = EMAIL_NAMES if channel == Channel.EMAIL else SHORT_NAMES
    for key, one in _each(text):
        label = f"{where}.{key[0]}" if key else where
        used = meta.find_undeclared_variables(_ENV.parse(one))
        unknown = sorted(used - names)
        if unknown:
            listed = ", ".join(f"{{{{ {name} }}}}" for name in unknown)
            found.append(
                f"{label}: {listed} is no template variable and comes out empty "
                f"(there are {', '.join(sorted(names))})"
            )
        single = sorted({m.group(1) for m in _ONE_BRACE.finditer(one)} & names)
        if single:
            written = ", ".join(f"{{{name}}}" for name in single)
            meant = ", ".join(f"{{{{ {name} }}}}" for name in single)
            found.append(f"{label}: {written} is sent as written; a variable is {meant}")
        elif channel != Channel.EMAIL and "link" not in used:
            kind = str(channel).upper()
            found.append(f"{label}: the {kind} has no {{{{ link }}}}: no way back to the basket")
    return found


def _each(text: str | Mapping[str, str] | None) -> Iterator[tuple[tuple[str, ...], str]]:
    """Each text with the key below the setting it sits at (a language's, or none)."""
    if text is None:
        return
    if isinstance(text, str):
        yield (), text
        return
    for language, one in text.items():
        yield (language,), one
