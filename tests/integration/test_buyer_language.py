"""The buyer's language chooses the wording: Shopify's `customer_locale`, the generic `locale`,
else the store's `locale`, else the first written; the built-in texts and the email's `lang`
follow. On both databases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from cartback.api.app import create_app
from cartback.domain import sms
from tests.integration.conftest import CONFIG, Shop, make_runtime
from tests.integration.test_policy_rules import config_yaml, flow_yaml, open_shop, store_yaml

BY_LANGUAGE = (
    "{en: 'Hi {{ first_name }}, your basket: {{ link }}', "
    "da: 'Hej {{ first_name }}, din kurv: {{ link }}'}"
)


def _shopify(db_url: str, tmp_path: Path, steps: str, locale: str = "") -> Shop:
    config = CONFIG.replace(
        "      - send: sms\n        template: >-\n"
        "          Hi {{{{ first_name }}}}, your basket at {{{{ store_name }}}} is saved: "
        "{{{{ link }}}}\n      - wait: 24h\n      - send: email\n",
        steps.replace("{", "{{").replace("}", "}}"),
    )
    if locale:
        config = config.replace("    currency: USD\n", f"    currency: USD\n    locale: {locale}\n")
    runtime, clock, gateway = make_runtime(db_url, tmp_path, config)
    return Shop(runtime, TestClient(create_app(runtime)), clock, gateway)


def _sent_for(shop: Shop, customer_locale: str | None) -> str:
    shop.checkout(customer_locale=customer_locale)
    shop.advance(timedelta(minutes=30))
    [message] = shop.sms.sent
    shop.runtime.store.close()
    return message.text


def test_the_checkouts_customer_locale_chooses_the_wording(db_url: str, tmp_path: Path) -> None:
    shop = _shopify(db_url, tmp_path, f"      - send: sms\n        template: {BY_LANGUAGE}\n")
    assert _sent_for(shop, "da-DK").startswith("Hej John, din kurv: https://cb.example/r/")


def test_without_the_buyers_language_the_stores(db_url: str, tmp_path: Path) -> None:
    step = f"      - send: sms\n        template: {BY_LANGUAGE}\n"
    shop = _shopify(db_url, tmp_path, step, locale="da")
    assert _sent_for(shop, "fr").startswith("Hej John")


def test_without_the_buyers_or_the_stores_language_the_first(db_url: str, tmp_path: Path) -> None:
    step = f"      - send: sms\n        template: {BY_LANGUAGE}\n"
    shop = _shopify(db_url, tmp_path, step)
    assert _sent_for(shop, None).startswith("Hi John, your basket")


def test_the_built_in_text_is_in_the_buyers_language_in_one_segment(
    db_url: str, tmp_path: Path
) -> None:
    shop = _shopify(db_url, tmp_path, "      - send: sms\n")
    text = _sent_for(shop, "da")
    assert text.startswith("Hej John, din kurv hos Acme er gemt. Gør din ordre færdig: https://")
    assert sms.analyse(text).segments == 1


def test_the_email_follows_the_stores_language(db_url: str, tmp_path: Path) -> None:
    stores = store_yaml("north", locale="da")
    config = config_yaml(flow_yaml("mail", "north", "- send: email\n"), stores=stores)
    with open_shop(db_url, tmp_path, config) as shop:
        shop.cart("north", "n1")
        shop.advance(timedelta(minutes=30))
        [mail] = shop.email.sent
    assert mail.subject == "Din kurv hos North venter på dig"
    assert mail.text.startswith("Hej Alice,\n\nDu har lagt noget i din kurv hos North.")
    assert mail.rich is not None and mail.rich.html is not None
    assert '<html lang="da">' in mail.rich.html and "Tilbage til din kurv" in mail.rich.html
