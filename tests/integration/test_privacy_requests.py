"""Privacy requests end to end, on both databases: Shopify's three privacy webhooks, the export
and erase commands and API answers. After an erasure nothing in the database, raw deliveries
included, holds the person's phone, email or name; their "no" is still honoured."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cartback.channels.base import InboundMessage
from cartback.cli import main
from cartback.reload import reload
from cartback.store.db import connect
from cartback.store.tables import metadata
from tests.integration.conftest import PHONE, TOKEN, Shop

CHECKOUT_EMAIL = "example@email.com"  # the sample checkout's
CUSTOMER_EMAIL = "john@example.com"  # its nested customer's
CUSTOMER_ID = 603851970716743400
PERSONAL = (PHONE, PHONE[3:], CHECKOUT_EMAIL, CUSTOMER_EMAIL, "John", "Smith", "123 Elm St.")


def _customer() -> dict[str, Any]:
    return {"id": CUSTOMER_ID, "email": CUSTOMER_EMAIL, "phone": PHONE}


def _privacy(shop: Shop, topic: str, **body: Any) -> None:
    payload = {"shop_id": 954889, "shop_domain": "acme.myshopify.com", **body}
    response = shop.post(topic, payload)
    assert response.status_code == 200, response.text


def _recovered_once(shop: Shop) -> None:
    """John's checkout, his SMS, his click: something stored in every table that can hold it."""
    shop.checkout()
    shop.advance(timedelta(minutes=30))
    [sms] = shop.sms.sent
    code = sms.text.rsplit("/r/", 1)[1]
    assert shop.client.get(f"/r/{code}", follow_redirects=False).status_code == 302


def _found_anywhere(db_url: str, needles: tuple[str, ...]) -> list[str]:
    """Every (table.column, needle) where a text, JSON or binary value holds a needle."""
    engine = connect(db_url)
    found = []
    try:
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                for row in conn.execute(select(table)).mappings():
                    for column, value in row.items():
                        text = value.decode(errors="replace") if isinstance(value, bytes) else value
                        text = json.dumps(text) if isinstance(text, dict | list) else str(text)
                        found += [f"{table.name}.{column}: {n}" for n in needles if n in text]
    finally:
        engine.dispose()
    return found


def test_after_customers_redact_nothing_holds_the_person_and_a_later_checkout_gets_no_sms(
    shop: Shop, db_url: str
) -> None:
    _recovered_once(shop)
    assert _found_anywhere(db_url, PERSONAL)  # before: everywhere

    _privacy(shop, "customers/redact", customer=_customer(), orders_to_redact=[1])

    assert _found_anywhere(db_url, PERSONAL) == []
    with shop.runtime.store.reading() as tx:
        [entry] = tx.privacy.entries()
    assert (entry.action, entry.source, entry.store_id) == (
        "erase",
        "webhook:customers/redact",
        "acme",
    )
    assert entry.counts["carts"] == 1 and entry.counts["deliveries"] == 2
    # The same number comes back a week later without ticking the box: no consent, no SMS.
    shop.clock.advance(timedelta(days=7))
    shop.checkout(token="later", cart_token="later", buyer_accepts_sms_marketing=False)
    shop.advance(timedelta(minutes=30))
    assert len(shop.sms.sent) == 1
    later = shop.cart(2)
    assert later["cart_key"] == "later"
    assert [e["reason"] for e in later["timeline"] if e["action"] == "skip"] == ["no_consent"]


def test_a_stop_outlives_the_erasure_as_a_keyed_hash(shop: Shop, db_url: str) -> None:
    _recovered_once(shop)
    stop = InboundMessage("fake-sms", "in-1", PHONE, "Acme", "STOP", shop.clock.now())
    shop.runtime.feedback.apply_inbound(stop)
    _privacy(shop, "customers/redact", customer=_customer())
    assert _found_anywhere(db_url, (PHONE,)) == []

    # Back with a ticked box: the consent is new, but the STOP still stands.
    shop.clock.advance(timedelta(days=7))
    shop.checkout(token="later", cart_token="later")
    shop.advance(timedelta(minutes=30))
    assert len(shop.sms.sent) == 1
    detail = shop.cart(2)
    assert any(e["reason"] == "suppressed" for e in detail["timeline"]), detail["timeline"]


def test_the_export_holds_carts_messages_clicks_consent_and_deliveries(shop: Shop) -> None:
    _recovered_once(shop)
    document = shop.api(f"/api/contacts/{PHONE.replace('+', '%2B')}/export")

    assert document["subject"]["phones"] == [PHONE]
    assert CHECKOUT_EMAIL in document["subject"]["emails"]  # found through the cart
    [cart] = document["carts"]
    assert cart["first_name"] == "John" and cart["timeline"][0]["action"] == "abandon"
    [message] = document["messages"]
    assert message["recipient"] == PHONE and message["body"].startswith("Hi John")
    assert len(document["clicks"]) == 1
    assert [e["source"] for e in document["consent"]] == ["checkout"]
    [delivery] = document["deliveries"]
    assert delivery["topic"] == "checkouts/update" and delivery["body"]["token"] == "123123123"


def test_the_api_erases_a_person_by_email_in_every_store(shop: Shop, db_url: str) -> None:
    _recovered_once(shop)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    response = shop.client.delete(f"/api/contacts/{CHECKOUT_EMAIL}", headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["erased"] is True and response.json()["counts"]["carts"] == 1
    assert _found_anywhere(db_url, PERSONAL) == []
    refused = shop.client.delete("/api/contacts/not-a-number", headers=headers)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_request"


def test_a_data_request_is_acted_on_in_the_audit_log(shop: Shop) -> None:
    _recovered_once(shop)
    customer = {"id": CUSTOMER_ID, "email": CHECKOUT_EMAIL, "phone": None}
    _privacy(shop, "customers/data_request", customer=customer, data_request={"id": 9999})

    with shop.runtime.store.reading() as tx:
        [entry] = tx.privacy.entries()
    assert (entry.action, entry.request_id) == ("data_request", "9999")
    assert entry.counts["carts"] == 1 and entry.counts["messages"] == 1


def test_shop_redact_erases_the_whole_store(shop: Shop, db_url: str) -> None:
    _recovered_once(shop)
    _privacy(shop, "shop/redact")

    assert _found_anywhere(db_url, PERSONAL) == []
    with shop.runtime.store.reading() as tx:
        [entry] = tx.privacy.entries()
    assert (entry.action, entry.store_id) == ("erase_store", "acme")


def test_the_commands_export_then_erase_a_person(
    shop: Shop, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _recovered_once(shop)
    config = tmp_path / "cartback.yaml"  # the shop's own config

    assert main(["contacts", "export", "--config", str(config), "--phone", PHONE]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["carts"][0]["phone"] == PHONE
    assert main(["contacts", "erase", "--config", str(config), "--email", CHECKOUT_EMAIL]) == 0
    out = capsys.readouterr().out
    assert out.startswith("erased: carts 1, clicks 1, consent_ledger 1, deliveries 1")
    assert _found_anywhere(db_url, PERSONAL) == []


@pytest.mark.parametrize("kept", [True, False], ids=["old-secret-kept", "old-secret-dropped"])
def test_a_stop_outlives_a_rotation_of_the_signing_secret_kept_as_a_previous_one(
    shop: Shop, tmp_path: Path, kept: bool
) -> None:
    """The erased person's STOP is a hash keyed by the signing secret. Rotated the documented
    way (the old secret moved to `previous_signing_secrets`), it is still found; with the old
    secret dropped it is forgotten, as the README warns."""
    _recovered_once(shop)
    stop = InboundMessage("fake-sms", "in-1", PHONE, "Acme", "STOP", shop.clock.now())
    shop.runtime.feedback.apply_inbound(stop)
    _privacy(shop, "customers/redact", customer=_customer())
    old = shop.runtime.signing.secret
    path = tmp_path / "cartback.yaml"
    previous = f"previous_signing_secrets: ['{old}']\n" if kept else ""
    secrets = f"signing_secret: '{'n' * 32}'\n{previous}"
    path.write_text(path.read_text().replace("public_url:", f"{secrets}public_url:", 1))
    assert reload(shop.runtime, path)
    assert shop.runtime.signing.secret == "n" * 32

    shop.clock.advance(timedelta(days=7))
    shop.checkout(token="later", cart_token="later")
    shop.advance(timedelta(minutes=30))
    skipped = [e["reason"] for e in shop.cart(2)["timeline"] if e["action"] == "skip"]
    if kept:
        assert len(shop.sms.sent) == 1 and skipped == ["suppressed"]
    else:
        assert len(shop.sms.sent) == 2 and skipped == []
