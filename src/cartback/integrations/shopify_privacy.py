"""Shopify's mandatory privacy webhooks, read into domain events.

- `customers/data_request`: `{shop_id, shop_domain, customer: {id, email, phone},
  orders_requested: [id, ...], data_request: {id}}`
- `customers/redact`: `{shop_id, shop_domain, customer: {id, email, phone}, orders_to_redact}`
- `shop/redact`: `{shop_id, shop_domain}`, 48 hours after the app was uninstalled

They carry no time of their own: the delivery's receipt time stands in. Apps subscribe to them in
the app's configuration (Partner Dashboard or `shopify.app.toml`), not through the Admin API.
"""

from __future__ import annotations

from datetime import datetime

from cartback.domain.events import (
    CustomerRedactRequested,
    DataRequested,
    DataSubject,
    ShopRedactRequested,
)
from cartback.integrations._json import JsonObject, PayloadError
from cartback.integrations.shopify_consent import customer_phone


def data_request(
    doc: JsonObject, *, store_id: str, default_country: str | None, received_at: datetime
) -> DataRequested:
    request = doc.child("data_request")
    return DataRequested(
        store_id=store_id,
        occurred_at=received_at,
        subject=_subject(doc, "orders_requested", default_country),
        request_id=request.ident("id") if request is not None else None,
    )


def customer_redact(
    doc: JsonObject, *, store_id: str, default_country: str | None, received_at: datetime
) -> CustomerRedactRequested:
    subject = _subject(doc, "orders_to_redact", default_country)
    return CustomerRedactRequested(store_id=store_id, occurred_at=received_at, subject=subject)


def shop_redact(
    doc: JsonObject, *, store_id: str, default_country: str | None, received_at: datetime
) -> ShopRedactRequested:
    del default_country  # the same signature as the others; a shop has no phone to read
    return ShopRedactRequested(
        store_id=store_id, occurred_at=received_at, shop_domain=doc.text("shop_domain")
    )


def _subject(doc: JsonObject, orders_key: str, default_country: str | None) -> DataSubject:
    """The customer the request is about; one without any id, email or phone is refused, since
    nothing could be found or erased for it."""
    customer = doc.child("customer")
    if customer is None:
        doc.fail("customer", "missing")
    raw_phone = customer.text("phone")
    subject = DataSubject(
        customer_external_id=customer.ident("id"),
        email=customer.text("email"),
        phone=customer_phone(raw_phone, default_country),
        phone_raw=raw_phone,
        order_keys=_ids(doc, orders_key),
    )
    if subject.customer_external_id is None and subject.email is None and raw_phone is None:
        customer.fail("id", "missing, and so are email and phone")
    return subject


def _ids(doc: JsonObject, key: str) -> tuple[str, ...]:
    """An array of integer ids (`orders_to_redact`), kept exact as strings."""
    value = doc.data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        doc.fail(key, "expected an array of ids")
    ids: list[str] = []
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int | str) or not str(item).isdigit():
            raise PayloadError(f"{doc.at(key)}[{index}]: {item!r} is not an integer id")
        ids.append(str(item))
    return tuple(ids)
