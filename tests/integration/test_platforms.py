"""Every shop platform through its HTTP endpoint, in-process on a fake clock, on both databases.

What is checked is what a shop owner would notice: which webhooks are accepted or refused (and
whether anything was stored), the carts and deliveries the API lists, whether an SMS goes out
after the wait, where its link leads, and how orders close carts, also when events come late or
out of order.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Protocol
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient

from cartback.api.app import create_app
from cartback.clock import FakeClock
from cartback.domain.records import ConsentEntry
from cartback.integrations import generic, shopify, woocommerce
from cartback.integrations.woocommerce_cart_recovery import url_token
from cartback.runtime import Runtime
from cartback.testing import FakeGateway
from tests.conftest import FIXTURES
from tests.fakes.magento import FakeMagento
from tests.integration.conftest import DOMAIN, PHONE, SECRET, TOKEN, make_runtime
from tests.integration.conftest import checkout_payload as shopify_checkout
from tests.integration.conftest import order_payload as shopify_order

WOO_SECRET = "woo-webhook-secret"
GEN_SECRET = "gen-webhook-secret"
FORM = "application/x-www-form-urlencoded"
EMAIL = "astrid@example.com"
WAIT = timedelta(minutes=30)

CONFIG = """
database_url: {db_url}
public_url: https://cb.example
api_token: {token}
stores:
  - id: acme
    platform: shopify
    shop_domain: {domain}
    webhook_secret: {secret}
    name: Acme
    default_country: DK
    currency: USD
  - id: woo
    platform: woocommerce
    webhook_secret: {woo_secret}
    name: Woo Shop
    default_country: DK
    currency: DKK
    consent_meta_keys: {{sms: _sms_consent}}
  - id: gen
    platform: generic
    webhook_secret: {gen_secret}
    name: Gen Shop
    default_country: DK
  - id: genopen
    platform: generic
    insecure: true
    name: Open Shop
    default_country: DK
  - id: mage
    platform: magento
    name: Mage Shop
    base_url: https://mage.test/rest
    access_token: mage-token
    insecure: true
    default_country: DK
    currency: DKK
    recovery_url_template: "https://mage.test/checkout/cart/restore/{{cart_id}}"
channels:
  sms:
    provider: outbox
    path: unused.jsonl
    sender: Shop
    cost_per_segment: 0.30
policy:
  quiet_hours: null
flows:
{flows}
"""

FLOW = """\
  - id: {store}-sms
    store: {store}
    abandon_after: 30m
    steps:
      - send: sms
        template: "Your basket at {{{{ store_name }}}} is saved: {{{{ link }}}}"
"""
FLOWS = "".join(FLOW.format(store=s) for s in ("acme", "woo", "gen", "genopen", "mage"))


# --- the cartback under test ------------------------------------------------------------------


@dataclass
class Cartback:
    runtime: Runtime
    client: TestClient
    clock: FakeClock
    sms: FakeGateway

    def api(self, path: str, **params: Any) -> Any:
        response = self.client.get(
            path, params=params, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def deliveries(self, **params: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.api("/api/deliveries", **params)
        return found

    def carts(self, store: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.api("/api/carts", store=store)
        return found

    def cart(self, store: str, key: str) -> dict[str, Any]:
        """The detail of the one cart `key` of `store`."""
        [summary] = [c for c in self.carts(store) if c["cart_key"] == key]
        detail: dict[str, Any] = self.api(f"/api/carts/{summary['id']}")
        return detail

    def wait(self, delta: timedelta = WAIT) -> int:
        self.clock.advance(delta)
        return self.runtime.scheduler.tick()

    def grant_sms(self, store: str, phone: str = PHONE) -> None:
        """Consent recorded elsewhere (Magento quotes carry none): straight into the ledger."""
        now = self.clock.now()
        with self.runtime.store.transaction() as tx:
            tx.consent.add(
                ConsentEntry(
                    store_id=store,
                    channel="sms",
                    address=phone,
                    granted=True,
                    source="test",
                    occurred_at=now - timedelta(days=1),
                    recorded_at=now,
                    detail="granted before the test",
                )
            )


@pytest.fixture
def cb(db_url: str, tmp_path: Path) -> Iterator[Cartback]:
    runtime, clock, gateway = make_runtime(
        db_url,
        tmp_path,
        CONFIG,
        woo_secret=WOO_SECRET,
        gen_secret=GEN_SECRET,
        flows=FLOWS,
    )
    with TestClient(create_app(runtime)) as client:
        yield Cartback(runtime, client, clock, gateway)
    runtime.store.close()


def reasons(cart: dict[str, Any]) -> list[str]:
    return [e["reason"] for e in cart["timeline"] if e["kind"] == "decision"]


def link_code(text: str) -> str:
    return text.rsplit("/r/", 1)[1].split()[0]


def wc_time(moment: datetime) -> str:
    """WooCommerce's `*_gmt` fields: UTC without an offset."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


# --- posting like each platform does ----------------------------------------------------------

SIGN = "sign"


def post_woo(
    cb: Cartback,
    topic: str,
    order: dict[str, Any],
    *,
    delivery_id: str | None = None,
    signature: str | None = SIGN,
) -> httpx.Response:
    body = json.dumps(order).encode()
    headers = {
        "Content-Type": "application/json",
        woocommerce.TOPIC_HEADER: topic,
        woocommerce.SOURCE_HEADER: "https://example.com/",
        woocommerce.WEBHOOK_ID_HEADER: "12",
        woocommerce.DELIVERY_HEADER: delivery_id or uuid.uuid4().hex,
    }
    if signature == SIGN:
        signature = woocommerce.sign(body, WOO_SECRET)
    if signature is not None:
        headers[woocommerce.SIGNATURE_HEADER] = signature
    response: httpx.Response = cb.client.post(
        "/webhooks/woocommerce/woo", content=body, headers=headers
    )
    return response


def woo_order(
    moment: datetime,
    *,
    order_id: int = 459,
    status: str = "pending",
    total: str = "4.00",
    sms: str = "yes",
) -> dict[str, Any]:
    """The local `order_pending_consent.json` with its consent under the store's `_sms_consent`."""
    order: dict[str, Any] = json.loads(
        (FIXTURES / "woocommerce" / "order_pending_consent.json").read_text()
    )
    for meta in order["meta_data"]:
        if meta["key"] == "_sms_marketing_consent":
            meta.update(key="_sms_consent", value=sms)
    order.update(
        id=order_id,
        status=status,
        total=total,
        date_modified_gmt=wc_time(moment),
        date_modified=wc_time(moment),
    )
    order["payment_url"] = order["payment_url"].replace("/459/", f"/{order_id}/")
    if status == "processing":
        order.update(date_paid_gmt=wc_time(moment), date_paid=wc_time(moment), needs_payment=False)
    return order


def post_generic(
    cb: Cartback,
    store: str,
    event: dict[str, Any],
    *,
    form: bool = False,
    signed_at: datetime | None = None,
    signed: bool = True,
) -> httpx.Response:
    if form:
        body, kind = urlencode(flatten(event)).encode(), FORM
    else:
        body, kind = json.dumps(event).encode(), "application/json"
    headers = {"Content-Type": kind}
    if signed:
        moment = signed_at or cb.clock.now()
        headers[generic.SIGNATURE_HEADER] = generic.sign(body, GEN_SECRET, int(moment.timestamp()))
    response: httpx.Response = cb.client.post(
        f"/webhooks/generic/{store}", content=body, headers=headers
    )
    return response


def flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """JSON as the flat form fields a Zapier step would send: `cart.items[0].price=…`."""
    if isinstance(value, dict):
        return [
            pair
            for key, inner in value.items()
            for pair in flatten(inner, f"{prefix}.{key}" if prefix else key)
        ]
    if isinstance(value, list):
        return [pair for n, inner in enumerate(value) for pair in flatten(inner, f"{prefix}[{n}]")]
    if isinstance(value, bool):
        return [(prefix, "true" if value else "false")]
    return [(prefix, "" if value is None else str(value))]


def generic_cart(
    moment: datetime, *, cart_id: str = "c-1", total: str = "499.00"
) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "type": "cart.updated",
        "occurred_at": moment.isoformat(),
        "cart": {
            "id": cart_id,
            "currency": "DKK",
            "total": total,
            "recovery_url": f"https://gen.example/cart/restore/{cart_id}",
            "items": [{"sku": "TS-M", "title": "T-shirt", "quantity": 1, "price": total}],
        },
        "customer": {
            "id": "u-1",
            "email": EMAIL,
            "phone": "20 12 34 56",
            "first_name": "Astrid",
            "consent": {"sms": True, "email": False},
        },
    }


def generic_order(moment: datetime, cart_id: str = "c-1") -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "type": "order.placed",
        "occurred_at": moment.isoformat(),
        "order": {
            "id": f"o-{cart_id}",
            "cart_id": cart_id,
            "total": "499.00",
            "currency": "DKK",
            "paid": True,
        },
        "customer": {"id": "u-1", "email": EMAIL, "phone": PHONE},
    }


def generic_deleted(moment: datetime, cart_id: str = "c-1") -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "type": "cart.deleted",
        "occurred_at": moment.isoformat(),
        "cart": {"id": cart_id},
    }


def post_shopify(cb: Cartback, topic: str, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        shopify.TOPIC_HEADER: topic,
        shopify.SHOP_DOMAIN_HEADER: DOMAIN,
        shopify.HMAC_HEADER: shopify.sign(body, SECRET),
        shopify.WEBHOOK_ID_HEADER: uuid.uuid4().hex,
    }
    response: httpx.Response = cb.client.post("/webhooks/shopify", content=body, headers=headers)
    return response


def post_magento(cb: Cartback, event: str, data: dict[str, Any]) -> httpx.Response:
    body = json.dumps({"eventName": f"observer.{event}", "data": data}).encode()
    headers = {"Content-Type": "application/json"}
    response: httpx.Response = cb.client.post(
        "/webhooks/magento/mage", content=body, headers=headers
    )
    return response


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


# --- WooCommerce ------------------------------------------------------------------------------


def test_woocommerce_creation_ping_is_answered_and_nothing_is_stored(cb: Cartback) -> None:
    response = cb.client.post(
        "/webhooks/woocommerce/woo", content=b"webhook_id=12", headers={"Content-Type": FORM}
    )
    assert response.status_code == 200, response.text
    assert cb.deliveries() == []
    assert cb.carts("woo") == []


@pytest.mark.parametrize(
    "signature",
    [None, woocommerce.sign(b"another body", WOO_SECRET), "not base64!"],
    ids=["missing", "other-body", "garbled"],
)
def test_woocommerce_bad_or_missing_signature_is_refused_and_nothing_stored(
    cb: Cartback, signature: str | None
) -> None:
    response = post_woo(cb, "order.updated", woo_order(cb.clock.now()), signature=signature)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"
    assert woocommerce.SIGNATURE_HEADER in response.json()["error"]["message"]
    assert cb.deliveries() == []
    assert cb.carts("woo") == []


def test_woocommerce_pending_order_is_recovered_by_sms_click_and_paid_order(cb: Cartback) -> None:
    order = woo_order(cb.clock.now())
    assert ok(post_woo(cb, "order.created", order))["status"] == "received"
    cart = cb.cart("woo", "459")
    assert cart["phone"] == PHONE and cart["sms_consent"] is True
    assert cb.wait(WAIT - timedelta(minutes=1)) == 0 and cb.sms.sent == []

    assert cb.wait(timedelta(minutes=1)) == 1
    [sms] = cb.sms.sent
    assert sms.to == PHONE
    assert sms.text.startswith("Your basket at Woo Shop is saved: https://cb.example/r/")
    cb.clock.advance(timedelta(minutes=20))
    click = cb.client.get(f"/r/{link_code(sms.text)}", follow_redirects=False)
    assert click.status_code == 302
    pay = (
        "https://example.com/checkout/order-pay/459/?pay_for_order=true&key=wc_order_boLXJYDMOOhSp"
    )
    assert click.headers["location"] == pay

    cb.clock.advance(timedelta(minutes=5))
    paid = woo_order(cb.clock.now(), status="processing")
    assert ok(post_woo(cb, "order.updated", paid))["status"] == "received"
    cart = cb.cart("woo", "459")
    assert cart["status"] == "purchased"
    assert cart["order"]["recovered"] is True and cart["order"]["attribution"] == "click"
    assert cart["order"]["attributed_message_id"] == sms.id
    kinds = [e["kind"] for e in cart["timeline"]]
    assert kinds.index("message") < kinds.index("click") < kinds.index("order")


def test_woocommerce_delivery_id_alone_does_not_deduplicate(cb: Cartback) -> None:
    first = woo_order(cb.clock.now(), total="4.00")
    cb.clock.advance(timedelta(seconds=1))
    later = woo_order(cb.clock.now(), total="9.00")  # the same second's delivery id, newer edit
    assert ok(post_woo(cb, "order.updated", first, delivery_id="d-1"))["status"] == "received"
    assert ok(post_woo(cb, "order.updated", later, delivery_id="d-1"))["status"] == "received"
    assert ok(post_woo(cb, "order.updated", later, delivery_id="d-1"))["status"] == "duplicate"
    assert len(cb.deliveries(store="woo")) == 2
    cart = cb.cart("woo", "459")
    assert cart["update_count"] == 2 and Decimal(cart["total"]) == Decimal("9.00")


def test_cart_abandonment_recovery_plugin_webhook_with_the_url_token(cb: Cartback) -> None:
    form = (FIXTURES / "woocommerce" / "car_abandoned.form").read_bytes()
    path = "/webhooks/woocommerce/woo/cart-abandonment"
    token = url_token(WOO_SECRET, "woo")
    response = cb.client.post(
        path, params={"token": token}, content=form, headers={"Content-Type": FORM}
    )
    answer = ok(response)
    assert answer["status"] == "success"
    cart = cb.cart("woo", "car:5d41402abc4b2a76b9719d911017c592")
    assert cart["email"] == EMAIL and cart["phone"] == PHONE
    assert cart["currency"] == "DKK" and Decimal(cart["total"]) == Decimal("543.00")


@pytest.mark.parametrize("token", ["", "0" * 32, url_token(WOO_SECRET, "other-store")])
def test_cart_abandonment_recovery_plugin_webhook_with_a_wrong_token(
    cb: Cartback, token: str
) -> None:
    form = (FIXTURES / "woocommerce" / "car_abandoned.form").read_bytes()
    response = cb.client.post(
        "/webhooks/woocommerce/woo/cart-abandonment",
        params={"token": token},
        content=form,
        headers={"Content-Type": FORM},
    )
    assert response.status_code == 401
    assert cb.deliveries() == [] and cb.carts("woo") == []


# --- generic ----------------------------------------------------------------------------------


def test_generic_signed_json_cart_and_the_same_fields_as_a_form(cb: Cartback) -> None:
    as_json = generic_cart(cb.clock.now(), cart_id="c-json")
    as_form = generic_cart(cb.clock.now(), cart_id="c-form")
    assert ok(post_generic(cb, "gen", as_json))["status"] == "received"
    assert ok(post_generic(cb, "gen", as_form, form=True))["status"] == "received"
    by_json, by_form = cb.cart("gen", "c-json"), cb.cart("gen", "c-form")
    for cart in (by_json, by_form):
        assert cart["phone"] == PHONE and cart["email"] == EMAIL
        assert cart["sms_consent"] is True and cart["first_name"] == "Astrid"
        assert Decimal(cart["total"]) == Decimal("499.00") and cart["currency"] == "DKK"
    assert by_form["items"] == by_json["items"]
    assert by_form["recovery_url"].endswith("/c-form")
    assert by_json["run"]["status"] == by_form["run"]["status"] == "pending"


@pytest.mark.parametrize("minutes", [-6, 6], ids=["six-minutes-old", "six-minutes-ahead"])
def test_generic_signature_outside_the_time_window_is_refused(cb: Cartback, minutes: int) -> None:
    event = generic_cart(cb.clock.now())
    signed_at = cb.clock.now() + timedelta(minutes=minutes)
    response = post_generic(cb, "gen", event, signed_at=signed_at)
    assert response.status_code == 401
    assert "time window" in response.json()["error"]["message"]
    assert cb.deliveries() == []


def test_generic_signed_five_minutes_ago_is_still_accepted(cb: Cartback) -> None:
    event = generic_cart(cb.clock.now())
    signed_at = cb.clock.now() - timedelta(minutes=4, seconds=59)
    assert ok(post_generic(cb, "gen", event, signed_at=signed_at))["status"] == "received"


def test_generic_unsigned_is_refused_unless_the_store_is_insecure(cb: Cartback) -> None:
    event = generic_cart(cb.clock.now())
    refused = post_generic(cb, "gen", event, signed=False)
    assert refused.status_code == 401
    assert generic.SIGNATURE_HEADER in refused.json()["error"]["message"]
    assert cb.deliveries() == []
    assert ok(post_generic(cb, "genopen", event, signed=False))["status"] == "received"
    assert [c["cart_key"] for c in cb.carts("genopen")] == ["c-1"]
    assert cb.carts("gen") == []


def test_generic_order_closes_the_cart(cb: Cartback) -> None:
    ok(post_generic(cb, "gen", generic_cart(cb.clock.now())))
    cb.clock.advance(timedelta(minutes=10))
    ok(post_generic(cb, "gen", generic_order(cb.clock.now())))
    assert cb.wait() == 0 and cb.sms.sent == []
    cart = cb.cart("gen", "c-1")
    assert cart["status"] == "purchased" and cart["run"]["status"] == "cancelled"
    assert cart["order"]["order_key"] == "o-c-1" and cart["order"]["recovered"] is False
    assert "purchased" in reasons(cart)


def test_generic_consent_withdrawn_before_abandonment_means_no_sms(cb: Cartback) -> None:
    ok(post_generic(cb, "gen", generic_cart(cb.clock.now())))
    cb.clock.advance(timedelta(minutes=5))
    withdrawal = {
        "event_id": uuid.uuid4().hex,
        "type": "consent.changed",
        "occurred_at": cb.clock.now().isoformat(),
        "customer": {"phone": "+45 20 12 34 56"},
        "consent": {"channel": "sms", "granted": False, "source": "preference-center"},
    }
    ok(post_generic(cb, "gen", withdrawal))
    cb.wait()
    assert cb.sms.sent == []
    assert "no_consent" in reasons(cb.cart("gen", "c-1"))


def test_generic_cart_deleted_cancels_pending_steps(cb: Cartback) -> None:
    ok(post_generic(cb, "gen", generic_cart(cb.clock.now())))
    cb.clock.advance(timedelta(minutes=5))
    ok(post_generic(cb, "gen", generic_deleted(cb.clock.now())))
    cb.wait()
    assert cb.sms.sent == []
    cart = cb.cart("gen", "c-1")
    assert cart["status"] == "deleted" and cart["run"]["status"] == "cancelled"


@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
def test_generic_bad_field_is_kept_as_failed_naming_it(cb: Cartback, form: bool) -> None:
    event = generic_cart(cb.clock.now())
    event["cart"]["items"][0]["price"] = "abc"
    answer = ok(post_generic(cb, "gen", event, form=form))
    assert answer["status"] == "received"  # read after the answer
    [failed] = cb.deliveries(status="failed")
    assert failed["id"] == answer["delivery_id"] and failed["delivery_key"] == event["event_id"]
    assert "cart.items[0].price" in failed["error"]
    assert cb.carts("gen") == []


# --- out of order and late, on every platform -------------------------------------------------


class Platform(Protocol):
    store: ClassVar[str]

    def prepare(self, cb: Cartback) -> None: ...

    def cart(self, cb: Cartback, key: str, at: datetime, total: str) -> None: ...

    def order(self, cb: Cartback, key: str, at: datetime) -> None: ...

    def delete(self, cb: Cartback, key: str, at: datetime) -> None: ...


class ShopifyPlatform:
    store: ClassVar[str] = "acme"

    def prepare(self, cb: Cartback) -> None:
        pass

    def cart(self, cb: Cartback, key: str, at: datetime, total: str) -> None:
        checkout = shopify_checkout(at, token=key, total_price=total, email=EMAIL)
        ok(post_shopify(cb, "checkouts/update", checkout))

    def order(self, cb: Cartback, key: str, at: datetime) -> None:
        order = shopify_order(at, None, checkout_token=key, email=EMAIL)
        ok(post_shopify(cb, "orders/create", order))

    def delete(self, cb: Cartback, key: str, at: datetime) -> None:
        ok(post_shopify(cb, "checkouts/delete", {"token": key, "updated_at": at.isoformat()}))


class WooPlatform:
    store: ClassVar[str] = "woo"

    def prepare(self, cb: Cartback) -> None:
        pass

    def cart(self, cb: Cartback, key: str, at: datetime, total: str) -> None:
        ok(post_woo(cb, "order.updated", woo_order(at, order_id=int(key), total=total)))

    def order(self, cb: Cartback, key: str, at: datetime) -> None:
        paid = woo_order(at, order_id=int(key), status="processing")
        ok(post_woo(cb, "order.updated", paid))

    def delete(self, cb: Cartback, key: str, at: datetime) -> None:
        ok(post_woo(cb, "order.deleted", {"id": int(key)}))  # all WooCommerce sends


class GenericPlatform:
    store: ClassVar[str] = "gen"

    def prepare(self, cb: Cartback) -> None:
        pass

    def cart(self, cb: Cartback, key: str, at: datetime, total: str) -> None:
        ok(post_generic(cb, "gen", generic_cart(at, cart_id=key, total=total)))

    def order(self, cb: Cartback, key: str, at: datetime) -> None:
        ok(post_generic(cb, "gen", generic_order(at, cart_id=key)))

    def delete(self, cb: Cartback, key: str, at: datetime) -> None:
        ok(post_generic(cb, "gen", generic_deleted(at, cart_id=key)))


@dataclass
class MagentoPlatform:
    """Adobe Commerce webhooks (`checkout_cart_save_after`, `sales_order_place_after`)."""

    store: ClassVar[str] = "mage"
    fake: FakeMagento = field(default_factory=FakeMagento)

    def prepare(self, cb: Cartback) -> None:
        cb.grant_sms("mage")  # a quote carries no SMS consent

    def _quote(self, key: str, at: datetime, total: str) -> dict[str, Any]:
        cart_id = int(key)
        if cart_id not in self.fake.carts:
            template = self.fake.add_cart(at, email=EMAIL, phone="20 12 34 56")
            self.fake.carts[cart_id] = {**copy.deepcopy(template), "id": cart_id}
        quote = self.fake.update_cart(cart_id, at)
        for item in quote["items"]:
            item["price"] = float(total)
        return {**copy.deepcopy(quote), "is_active": True}  # as saved, before any order

    def cart(self, cb: Cartback, key: str, at: datetime, total: str) -> None:
        ok(post_magento(cb, "checkout_cart_save_after", {"cart": self._quote(key, at, total)}))

    def order(self, cb: Cartback, key: str, at: datetime) -> None:
        if int(key) not in self.fake.carts:
            self._quote(key, at, "16.00")
        order = self.fake.place_order(int(key), at)
        ok(post_magento(cb, "sales_order_place_after", {"order": order}))

    def delete(self, cb: Cartback, key: str, at: datetime) -> None:
        """Magento has no delete event: the shopper removing the last item empties the quote."""
        quote = self._quote(key, at, "0")
        quote.update(items=[], items_count=0, items_qty=0)
        ok(post_magento(cb, "checkout_cart_save_after", {"cart": quote}))


PLATFORMS: list[type[Platform]] = [ShopifyPlatform, WooPlatform, GenericPlatform, MagentoPlatform]
KEY = "501"  # an order id for WooCommerce, a quote id for Magento; any string elsewhere


@pytest.fixture(params=PLATFORMS, ids=[p.store for p in PLATFORMS])
def platform(request: pytest.FixtureRequest, cb: Cartback) -> Platform:
    chosen: Platform = request.param()
    chosen.prepare(cb)
    return chosen


def test_an_update_older_than_what_we_have_is_ignored(cb: Cartback, platform: Platform) -> None:
    start = cb.clock.now()
    platform.cart(cb, KEY, start, "500.00")
    cb.clock.advance(timedelta(minutes=1))
    platform.cart(cb, KEY, start - timedelta(minutes=5), "100.00")  # delivered late
    cart = cb.cart(platform.store, KEY)
    assert Decimal(cart["total"]) == Decimal("500.00")
    assert cart["update_count"] == 1
    assert cb.wait() == 1 and [m.to for m in cb.sms.sent] == [PHONE]  # the cart still recovers


def test_an_order_beats_a_cart_update_delivered_after_it(cb: Cartback, platform: Platform) -> None:
    start = cb.clock.now()
    platform.cart(cb, KEY, start, "500.00")
    cb.clock.advance(timedelta(minutes=5))
    platform.order(cb, KEY, cb.clock.now())
    platform.cart(cb, KEY, start + timedelta(minutes=2), "600.00")  # written before the order
    cart = cb.cart(platform.store, KEY)
    assert cart["status"] == "purchased" and Decimal(cart["total"]) == Decimal("500.00")
    cb.wait()
    assert cb.sms.sent == []
    assert cb.cart(platform.store, KEY)["status"] == "purchased"


def test_an_order_delivered_before_its_cart_was_ever_seen_still_wins(
    cb: Cartback, platform: Platform
) -> None:
    start = cb.clock.now()
    cb.clock.advance(timedelta(minutes=5))
    platform.order(cb, KEY, cb.clock.now())
    platform.cart(cb, KEY, start, "500.00")  # the cart's webhook is the one that came late
    cb.wait()
    assert cb.sms.sent == []
    assert "purchased" in reasons(cb.cart(platform.store, KEY))


def test_a_cart_deleted_while_steps_are_pending_cancels_them(
    cb: Cartback, platform: Platform
) -> None:
    platform.cart(cb, KEY, cb.clock.now(), "500.00")
    cb.clock.advance(timedelta(minutes=5))
    platform.delete(cb, KEY, cb.clock.now())
    cb.wait()
    assert cb.sms.sent == []
    cart = cb.cart(platform.store, KEY)
    assert cart["run"]["status"] == "cancelled"
    assert "deleted" in reasons(cart)
