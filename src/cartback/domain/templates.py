"""The buyer's language: which of a step's texts to send, and the built-in texts per language.

A step's template may be one text or a mapping by language (`{da: "Hej …", en: "Hi …"}`). The
cart's locale chooses ("da-DK" matches "da"), then the store's `locale`, then the first text
written. The built-in texts each fit one GSM-7 SMS segment with a 40-character link and a store
name of up to about 40 characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})*")


def normalise_language(tag: str) -> str:
    """`da_DK`, `DA-dk` → `da-dk`, the form languages are compared in."""
    return tag.strip().replace("_", "-").lower()


def choose_language(
    available: Sequence[str], locale: str | None, store_locale: str | None
) -> str | None:
    """The cart's language if offered (exactly, else by its primary tag), else the store's,
    else the first offered; None when nothing is offered."""
    if not available:
        return None
    for wanted in (locale, store_locale):
        found = _match(available, wanted)
        if found is not None:
            return found
    return available[0]


def choose_template(
    templates: Mapping[str, str], locale: str | None, store_locale: str | None
) -> tuple[str, str]:
    """(language, text) from a mapping by language; see `choose_language`."""
    language = choose_language(list(templates), locale, store_locale)
    if language is None:
        raise ValueError("no template to choose from")
    return language, templates[language]


def _match(available: Sequence[str], wanted: str | None) -> str | None:
    if not wanted or not wanted.strip():
        return None
    tag = normalise_language(wanted)
    for language in available:
        if normalise_language(language) == tag:
            return language
    primary = tag.split("-")[0]
    return next(
        (lang for lang in available if normalise_language(lang).split("-")[0] == primary), None
    )


# Built-in texts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DefaultTexts:
    short: str  # SMS and RCS
    email_subject: str
    email_text: str
    email_words: Mapping[str, str]  # the built-in email's own words (see templates/basket_email)


DEFAULT_TEXTS: Mapping[str, DefaultTexts] = {
    "en": DefaultTexts(
        short=(
            "Hi {{ first_name }}, your basket at {{ store_name }} is saved. "
            "Finish your order: {{ link }}"
        ),
        email_subject="Your basket at {{ store_name }} is waiting",
        email_text=(
            "Hi {{ first_name }},\n\nYou left something in your basket at {{ store_name }}. "
            "It is saved for you:\n\n{{ link }}\n\nSee you soon,\n{{ store_name }}"
        ),
        email_words={
            "hi": "Hi",
            "left": "You left something in your basket at",
            "saved": "It is saved for you",
            "quantity": "Quantity",
            "total": "Total",
            "finish": "Finish your order",
            "button": "Return to your basket",
            "bye": "See you soon",
            "unsubscribe_question": "Don't want these emails?",
            "unsubscribe": "Unsubscribe",
        },
    ),
    "da": DefaultTexts(
        short=(
            "Hej {{ first_name }}, din kurv hos {{ store_name }} er gemt. "
            "Gør din ordre færdig: {{ link }}"
        ),
        email_subject="Din kurv hos {{ store_name }} venter på dig",
        email_text=(
            "Hej {{ first_name }},\n\nDu har lagt noget i din kurv hos {{ store_name }}. "
            "Vi har gemt den til dig:\n\n{{ link }}\n\nVi ses,\n{{ store_name }}"
        ),
        email_words={
            "hi": "Hej",
            "left": "Du har lagt noget i din kurv hos",
            "saved": "Vi har gemt den til dig",
            "quantity": "Antal",
            "total": "I alt",
            "finish": "Gør din ordre færdig",
            "button": "Tilbage til din kurv",
            "bye": "Vi ses",
            "unsubscribe_question": "Vil du ikke have flere e-mails?",
            "unsubscribe": "Afmeld",
        },
    ),
}


def default_texts(locale: str | None, store_locale: str | None) -> tuple[str, DefaultTexts]:
    """The built-in texts in the buyer's language, else the store's, else English."""
    language = _match(list(DEFAULT_TEXTS), locale) or _match(list(DEFAULT_TEXTS), store_locale)
    chosen = language or "en"
    return chosen, DEFAULT_TEXTS[chosen]
