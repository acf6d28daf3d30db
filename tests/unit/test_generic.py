from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

import cartback
from cartback.domain.events import (
    CartDeleted,
    CartUpdated,
    Channel,
    Consent,
    ConsentChanged,
    Event,
    OrderPlaced,
)
from cartback.integrations import generic
from cartback.integrations.generic import (
    PayloadError,
    VerifyResult,
    delivery_key,
    parse,
    sign,
    verify,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "generic"
SCHEMA = Path(cartback.__file__).resolve().parent / "schemas" / "generic-webhook.v1.json"
EXAMPLES = [
    "cart_updated.json",
    "order_placed.json",
    "order_updated.json",
    "order_refunded.json",
    "consent_changed.json",
    "cart_deleted.json",
]
RECEIVED_AT = datetime(2026, 11, 29, 10, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 29, 10, 0, 30, tzinfo=UTC)
SECRET = "generic-secret"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse_one(body: bytes, content_type: str | None = JSON) -> Event:
    events = parse(
        body, content_type, store_id="gen", default_country="DK", received_at=RECEIVED_AT
    )
    assert len(events) == 1
    return events[0]


def flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """What Zapier or Make send: one form field per leaf, keys with dots and [n]."""
    if isinstance(value, dict):
        return [
            pair for k, v in value.items() for pair in flatten(v, f"{prefix}.{k}" if prefix else k)
        ]
    if isinstance(value, list):
        return [pair for i, v in enumerate(value) for pair in flatten(v, f"{prefix}[{i}]")]
    text = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return [(prefix, text)]


def as_form(name: str) -> bytes:
    return urlencode(flatten(json.loads(fixture(name)))).encode()


# --- every event type, JSON and form-encoded --------------------------------------------------


@pytest.mark.parametrize("encode", ["json", "form"])
def test_cart_updated(encode: str) -> None:
    body = fixture("cart_updated.json") if encode == "json" else as_form("cart_updated.json")
    event = parse_one(body, JSON if encode == "json" else FORM)
    assert isinstance(event, CartUpdated)
    assert (event.store_id, event.cart_key) == ("gen", "c-1")
    assert event.occurred_at == datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    assert (event.currency, event.total) == ("DKK", Decimal("499.00"))
    assert event.recovery_url == "https://shop.example/cart/restore/abc"
    assert event.consent == Consent(sms=True, email=False)
    customer = event.customer
    assert (customer.external_id, customer.email, customer.phone) == (
        "u-1",
        "astrid@example.com",
        "+4520123456",
    )
    assert (customer.first_name, customer.tags, customer.orders_count) == ("Astrid", ("vip",), 3)
    (item,) = event.items
    assert (item.sku, item.title, item.quantity, item.price) == (
        "TS-M",
        "T-shirt",
        1,
        Decimal("499.00"),
    )
    assert (item.tags, item.image_url) == (("promo",), None)


@pytest.mark.parametrize("encode", ["json", "form"])
def test_order_placed(encode: str) -> None:
    body = fixture("order_placed.json") if encode == "json" else as_form("order_placed.json")
    event = parse_one(body, JSON if encode == "json" else FORM)
    assert isinstance(event, OrderPlaced)
    assert (event.order_key, event.cart_key, event.paid) == ("o-1001", "c-1", True)
    assert (event.total, event.currency) == (Decimal("449.10"), "DKK")
    assert (event.discount_codes, event.discount_total) == (("WELCOME10",), Decimal("49.90"))
    assert event.occurred_at == datetime(2026, 11, 29, 9, 42, tzinfo=UTC)  # +01:00 → UTC


@pytest.mark.parametrize("encode", ["json", "form"])
def test_consent_changed(encode: str) -> None:
    body = fixture("consent_changed.json") if encode == "json" else as_form("consent_changed.json")
    event = parse_one(body, JSON if encode == "json" else FORM)
    assert event == ConsentChanged(
        store_id="gen",
        channel=Channel.SMS,
        granted=True,
        occurred_at=datetime(2026, 11, 29, 9, 58, tzinfo=UTC),
        source="generic:checkout",
        phone="+4520123456",  # "20 12 34 56" read in the store's default country
        email="astrid@example.com",
        customer_external_id="u-1",
        detail="Yes, text me offers. Reply STOP to opt out.",
    )


@pytest.mark.parametrize("encode", ["json", "form"])
def test_cart_deleted(encode: str) -> None:
    body = fixture("cart_deleted.json") if encode == "json" else as_form("cart_deleted.json")
    event = parse_one(body, JSON if encode == "json" else FORM)
    assert event == CartDeleted(
        store_id="gen", cart_key="c-1", occurred_at=datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    )


def test_a_literal_zapier_form_body() -> None:
    body = (
        b"event_id=zap-7&type=cart.updated&occurred_at=2026-11-29T10%3A00%3A00Z"
        b"&cart.id=981&cart.currency=dkk&cart.total=120&cart.recovery_url="
        b"&cart.items[0].title=Mug&cart.items[0].quantity=2&cart.items[0].price=60"
        b"&cart[items][1][title]=Spoon&cart[items][1][quantity]=1&cart[items][1][price]=0"
        b"&customer.email=bo%40example.com&customer.consent.email=yes&customer.tags=vip%2C+new"
    )
    event = parse_one(body, FORM)
    assert isinstance(event, CartUpdated)
    assert (event.cart_key, event.currency, event.recovery_url) == ("981", "DKK", None)
    assert [(i.title, i.quantity) for i in event.items] == [("Mug", 2), ("Spoon", 1)]
    assert event.consent == Consent(sms=None, email=True)
    assert event.customer.tags == ("vip", "new")


def test_unknown_fields_are_ignored() -> None:
    data = json.loads(fixture("cart_deleted.json"))
    data["cart"]["future_field"] = {"anything": [1, 2]}
    data["schema_version"] = "2"
    assert isinstance(parse_one(json.dumps(data).encode()), CartDeleted)


def test_integer_ids_stay_exact() -> None:
    data = json.loads(fixture("cart_deleted.json"))
    data["cart"]["id"] = 6038519707167434261
    assert parse_one(json.dumps(data).encode()) == CartDeleted(
        store_id="gen",
        cart_key="6038519707167434261",
        occurred_at=datetime(2026, 11, 30, 8, 0, tzinfo=UTC),
    )


def test_an_invalid_phone_on_a_cart_is_kept_raw() -> None:
    data = json.loads(fixture("cart_updated.json"))
    data["customer"]["phone"] = "12"
    event = parse_one(json.dumps(data).encode())
    assert isinstance(event, CartUpdated)
    assert (event.customer.phone, event.customer.phone_raw) == (None, "12")


def test_delivery_key_is_the_event_id() -> None:
    assert delivery_key(fixture("order_placed.json")) == "evt-2"
    assert delivery_key(as_form("order_placed.json"), FORM) == "evt-2"
    with pytest.raises(PayloadError, match=r"^event_id: missing"):
        delivery_key(b'{"type": "cart.deleted"}')


# --- errors name the field --------------------------------------------------------------------


def mutated(name: str, change: Any) -> bytes:
    data = json.loads(fixture(name))
    change(data)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            mutated("cart_updated.json", lambda d: d["cart"]["items"][0].update(price="abc")),
            "cart.items[0].price: 'abc' is not an amount",
        ),
        (
            mutated("cart_updated.json", lambda d: d["cart"].pop("currency")),
            "cart.currency: missing",
        ),
        (
            mutated("cart_updated.json", lambda d: d["cart"].update(currency="kroner")),
            "cart.currency: 'kroner' is not a currency code (e.g. DKK)",
        ),
        (
            mutated("order_placed.json", lambda d: d.update(occurred_at="2026-11-29T10:00:00")),
            "occurred_at: Input should have timezone info",
        ),
        (
            mutated("consent_changed.json", lambda d: d["consent"].update(channel="fax")),
            "consent.channel: ",
        ),
        (
            mutated("cart_updated.json", lambda d: d["customer"].update(orders_count=-1)),
            "customer.orders_count: ",
        ),
        (
            mutated("consent_changed.json", lambda d: d.update(customer={})),
            "customer: give an email, phone or id",
        ),
        (
            mutated("consent_changed.json", lambda d: d.update(customer={"phone": "12"})),
            "customer.phone: phone number is too short",
        ),
        (b"cart.items[0].title=x&cart.items[2].title=y", "cart.items: list indices must run 0, 1"),
        (b"cart=1&cart.id=2", "cart: has both a value and fields"),
    ],
)
def test_errors_name_the_json_path(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_one(body, None)
    assert message in str(caught.value)


@pytest.mark.parametrize("kind", ['"cart.exploded"', "null", "3"])
def test_unknown_type_names_type(kind: str) -> None:
    body = f'{{"event_id": "e", "type": {kind}, "occurred_at": "2026-11-29T10:00:00Z"}}'.encode()
    with pytest.raises(PayloadError, match=r"^type: .*\(known: cart\.deleted, cart\.updated"):
        parse_one(body)


def test_a_body_that_is_not_json_is_refused() -> None:
    with pytest.raises(PayloadError, match="body is not JSON"):
        parse_one(b"{not json", JSON)


# --- signatures -------------------------------------------------------------------------------


def t(moment: datetime) -> int:
    return int(moment.timestamp())


def test_a_fresh_signature_verifies() -> None:
    body = fixture("cart_updated.json")
    result = verify(body, sign(body, SECRET, t(NOW)), SECRET, NOW)
    assert result is VerifyResult.OK and result.ok


def test_signature_format() -> None:
    header = sign(b"{}", SECRET, 1_700_000_000)
    assert re.fullmatch(r"t=1700000000,v1=[0-9a-f]{64}", header)


def test_a_tampered_body_is_a_bad_signature() -> None:
    body = fixture("cart_updated.json")
    header = sign(body, SECRET, t(NOW))
    result = verify(body.replace(b"499.00", b"1.00"), header, SECRET, NOW)
    assert result is VerifyResult.BAD_SIGNATURE
    assert "bad signature" in result


def test_a_changed_timestamp_is_a_bad_signature() -> None:
    body = fixture("cart_updated.json")
    header = sign(body, SECRET, t(NOW) - 600).replace(f"t={t(NOW) - 600}", f"t={t(NOW)}")
    assert verify(body, header, SECRET, NOW) is VerifyResult.BAD_SIGNATURE


def test_a_six_minute_old_request_is_refused_as_a_replay() -> None:
    body = fixture("cart_updated.json")
    header = sign(body, SECRET, t(NOW - timedelta(minutes=6)))
    result = verify(body, header, SECRET, NOW)
    assert result is VerifyResult.TOO_OLD
    assert "outside the time window" in result and "replay" in result


def test_a_request_from_the_future_is_refused() -> None:
    body = fixture("cart_updated.json")
    header = sign(body, SECRET, t(NOW + timedelta(minutes=6)))
    assert verify(body, header, SECRET, NOW) is VerifyResult.IN_FUTURE


def test_tolerance_can_be_widened() -> None:
    body = fixture("cart_updated.json")
    header = sign(body, SECRET, t(NOW - timedelta(minutes=6)))
    assert verify(body, header, SECRET, NOW, tolerance=timedelta(minutes=10)).ok


def test_rotated_secrets_any_v1_may_match() -> None:
    body = fixture("cart_updated.json")
    header = sign(body, ["old-secret", SECRET], t(NOW))
    assert header.count("v1=") == 2
    assert verify(body, header, SECRET, NOW).ok
    assert verify(body, header, "old-secret", NOW).ok
    assert verify(body, header, ["newest", "old-secret"], NOW).ok
    assert verify(body, header, "unrelated", NOW) is VerifyResult.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, VerifyResult.MISSING),
        ("", VerifyResult.MISSING),
        ("v1=abc", VerifyResult.MALFORMED),
        ("t=123", VerifyResult.MALFORMED),
        ("t=soon,v1=" + "0" * 64, VerifyResult.MALFORMED),
        ("t=123,v1=" + "0" * 64, VerifyResult.BAD_SIGNATURE),
    ],
)
def test_unreadable_headers_are_named(header: str | None, expected: VerifyResult) -> None:
    assert verify(b"{}", header, SECRET, NOW) is expected


# --- the JSON Schema --------------------------------------------------------------------------


def test_schema_is_json_with_id_and_version() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]
    assert schema["version"] == generic.SCHEMA_VERSION == "1"
    types = {d["properties"]["type"]["const"] for d in schema["$defs"].values() if "allOf" in d}
    assert types == generic.TYPES


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_validate_against_the_schema(name: str) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    errors = _schema_errors(json.loads(fixture(name)), schema, schema, "")
    assert errors == []


def test_the_schema_check_catches_a_broken_example() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    data = json.loads(fixture("cart_updated.json"))
    del data["cart"]["currency"]
    assert _schema_errors(data, schema, schema, "") != []


def _schema_errors(value: Any, node: dict[str, Any], root: dict[str, Any], at: str) -> list[str]:
    """The keywords our schema uses, checked structurally (jsonschema is not a dependency)."""
    try:
        import jsonschema  # type: ignore[import-untyped]
    except ImportError:
        return _check(value, node, root, at)
    return [e.message for e in jsonschema.Draft202012Validator(node).iter_errors(value)]


_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
    "integer": int,
    "number": (int, float),
}


def _check(value: Any, node: dict[str, Any], root: dict[str, Any], at: str) -> list[str]:
    if "$ref" in node:
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _check(value, target, root, at) + _check(value, _without(node, "$ref"), root, at)
    errors: list[str] = []
    for sub in node.get("allOf", []):
        errors += _check(value, sub, root, at)
    if "oneOf" in node:
        passing = [s for s in node["oneOf"] if not _check(value, s, root, at)]
        if len(passing) != 1:
            errors.append(f"{at}: matches {len(passing)} of oneOf")
    errors += _check_type(value, node, at)
    if "const" in node and value != node["const"]:
        errors.append(f"{at}: not {node['const']!r}")
    if "enum" in node and value not in node["enum"]:
        errors.append(f"{at}: not one of {node['enum']}")
    if isinstance(value, str) and "pattern" in node and not re.search(node["pattern"], value):
        errors.append(f"{at}: does not match {node['pattern']}")
    if isinstance(value, dict):
        errors += [f"{at}.{key}: missing" for key in node.get("required", []) if key not in value]
        for key, sub in node.get("properties", {}).items():
            if key in value:
                errors += _check(value[key], sub, root, f"{at}.{key}")
    if isinstance(value, list) and "items" in node:
        for index, item in enumerate(value):
            errors += _check(item, node["items"], root, f"{at}[{index}]")
    return errors


def _check_type(value: Any, node: dict[str, Any], at: str) -> list[str]:
    if "type" not in node:
        return []
    names = node["type"] if isinstance(node["type"], list) else [node["type"]]
    bool_ok = "boolean" in names or not isinstance(value, bool)
    if bool_ok and any(isinstance(value, _TYPES[name]) for name in names):
        return []
    return [f"{at}: not of type {names}"]


def _without(node: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k != key}
