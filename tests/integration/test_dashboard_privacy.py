"""Export and erase a person from the Contacts page: the export is the API's document, the
erasure needs a confirmation and the session's CSRF token, and then nothing of them is left."""

from __future__ import annotations

import json
import re

from tests.integration.conftest import PHONE, Shop
from tests.integration.test_dashboard import recovered_cart
from tests.integration.test_dashboard_scope import as_store, form, two_shops  # noqa: F401

ENCODED = PHONE.replace("+", "%2B")


def test_export_gives_the_apis_document_as_a_download(shop: Shop) -> None:
    recovered_cart(shop)
    owner = as_store(shop, None)
    assert "Export their data" in owner.get(f"/dashboard/contacts?q={ENCODED}").text
    answer = owner.get(f"/dashboard/contacts/export?q={ENCODED}")
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith("attachment;")
    api = shop.client.get(
        f"/api/contacts/{ENCODED}/export", headers={"Authorization": "Bearer " + token(shop)}
    ).json()
    assert json.loads(answer.text).keys() == api.keys()
    assert PHONE in answer.text
    bad = owner.get("/dashboard/contacts/export?q=hello")
    assert bad.status_code == 400 and "neither an email" in bad.text


def test_erase_asks_first_needs_the_csrf_token_and_then_leaves_nothing(shop: Shop) -> None:
    recovered_cart(shop)
    owner = as_store(shop, None)
    confirm = owner.get(f"/dashboard/contacts/erase?q={ENCODED}")
    assert confirm.status_code == 200 and "It cannot be undone" in confirm.text
    assert re.search(r'name="q" value="\+4520123456"', confirm.text)
    refused = owner.post("/dashboard/contacts/erase", data={"q": PHONE, "csrf": "guess"})
    assert refused.status_code == 403
    assert shop.api("/api/carts"), "nothing erased without the token"

    done = owner.post("/dashboard/contacts/erase", data={"q": PHONE, **form(owner)})
    assert done.status_code == 200 and "/dashboard/contacts?erased=" in str(done.url)
    assert "was erased" in done.text and "removed or anonymised" in done.text
    [cart] = shop.api("/api/carts")  # kept for the shop's figures, without the person
    assert PHONE not in json.dumps(cart) and "example@email.com" not in json.dumps(cart)
    after = owner.get(f"/dashboard/contacts?q={ENCODED}").text
    assert "No carts with this address" in after


def test_a_store_session_erases_only_in_its_store(two_shops: Shop) -> None:  # noqa: F811
    recovered_cart(two_shops)
    other = as_store(two_shops, "other")
    done = other.post("/dashboard/contacts/erase", data={"q": PHONE, **form(other)})
    assert "from Other Shop" in done.text and "Nothing about them was stored" in done.text
    assert two_shops.api("/api/carts", store="acme"), "acme's cart is acme's to erase"


def token(shop: Shop) -> str:
    return shop.runtime.settings.api_token
