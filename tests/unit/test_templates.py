"""The buyer's language chooses the words; the built-in texts fit one SMS in every language."""

from __future__ import annotations

import pytest

from cartback.domain import sms
from cartback.domain.templates import DEFAULT_TEXTS, choose_template, default_texts

TEXTS = {"da": "Hej", "en": "Hi", "pt-br": "Olá"}


@pytest.mark.parametrize(
    ("locale", "store_locale", "language"),
    [
        ("da", "en", "da"),
        ("da-DK", "en", "da"),  # Shopify's customer_locale
        ("da_DK", None, "da"),  # WooCommerce's get_locale()
        ("EN-us", "da", "en"),
        ("pt-BR", None, "pt-br"),
        ("pt", None, "pt-br"),  # the primary language is enough
        ("sv", "en", "en"),  # not offered: the store's language
        (None, "en-GB", "en"),
        ("sv", "fi", "da"),  # neither: the first written
        (None, None, "da"),
        ("", "  ", "da"),
    ],
)
def test_choose_template_by_cart_then_store_then_first(
    locale: str | None, store_locale: str | None, language: str
) -> None:
    assert choose_template(TEXTS, locale, store_locale) == (language, TEXTS[language])


def test_nothing_to_choose_from() -> None:
    with pytest.raises(ValueError, match="no template"):
        choose_template({}, "da", "en")


def render(template: str, first_name: str, store_name: str, link: str) -> str:
    text = template.replace("{{ first_name }}", first_name).replace("{{ store_name }}", store_name)
    text = text.replace("{{ link }}", link)
    assert "{{" not in text
    return text


LINK = "https://go.example-shop.dk/r/AbCdEfGhIjKl"  # 41 characters, a 12-character code


@pytest.mark.parametrize("language", sorted(DEFAULT_TEXTS))
def test_every_built_in_sms_fits_one_gsm7_segment(language: str) -> None:
    store = "Nordisk Strik & Uld Kompagni af 1987 ApS"  # 40 characters
    text = render(DEFAULT_TEXTS[language].short, "Maximilian-Alexander", store, LINK)
    info = sms.analyse(text)
    assert info.encoding is sms.Encoding.GSM7
    assert info.segments == 1, (len(text), text)


@pytest.mark.parametrize("language", sorted(DEFAULT_TEXTS))
def test_every_language_has_an_email_subject_and_text(language: str) -> None:
    texts = DEFAULT_TEXTS[language]
    assert "{{ store_name }}" in texts.email_subject
    assert "{{ link }}" in texts.email_text


def test_built_in_texts_follow_the_buyer_then_the_store_then_english() -> None:
    assert default_texts("da-DK", "en")[0] == "da"
    assert default_texts("sv", "da")[0] == "da"
    assert default_texts("sv", None)[0] == "en"
    assert default_texts(None, None)[1] == DEFAULT_TEXTS["en"]
