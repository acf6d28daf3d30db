"""Who a Shopify checkout or order belongs to: the customer, their addresses and numbers.

Every number on the payload is a candidate for SMS, named by its field so that a skip can say
which one was not valid: the one given for SMS marketing first, then the buyer's own, the
customer's, and the billing before the shipping address's. Shops' placeholder numbers
(`555-555-BILL`) are passed over as not being phone numbers at all.
"""

from __future__ import annotations

from cartback.domain.emails import normalize_email
from cartback.domain.events import Customer
from cartback.domain.phone import choose_phone
from cartback.integrations._json import JsonObject, first_text, present

__all__ = ["customer"]


def customer(doc: JsonObject, email_keys: tuple[str, ...], default_country: str | None) -> Customer:
    nested = doc.child("customer")
    addresses = _addresses(doc)
    country = _country(addresses, nested)
    phone = choose_phone(_phones(doc, nested), country or default_country)
    people = [*present(nested), *addresses]
    return Customer(
        external_id=nested.ident("id") if nested else None,
        email=normalize_email(first_text([doc, *present(nested)], email_keys)),
        phone=phone.e164,
        phone_raw=phone.raw,
        phone_source=phone.source,
        first_name=first_text(people, ("first_name",)),
        last_name=first_text(people, ("last_name",)),
        country=country,
        orders_count=nested.integer("orders_count") if nested else None,
        total_spent=nested.amount("total_spent") if nested else None,
        tags=_tags(nested.text("tags") if nested else None),
    )


def _phones(doc: JsonObject, nested: JsonObject | None) -> list[tuple[str, str | None]]:
    """Every number on the checkout or order by its field, the one given for SMS marketing first,
    then the buyer's own, the customer's, and the billing before the shipping address's."""
    found: list[tuple[str, str | None]] = [
        ("sms_marketing_phone", doc.text("sms_marketing_phone")),
        ("phone", doc.text("phone")),
    ]
    if nested is not None:
        found.append(("customer.phone", nested.text("phone")))
    for name in ("billing_address", "shipping_address"):
        address = doc.child(name)
        if address is not None:
            found.append((f"{name}.phone", address.text("phone")))
    return found


def _addresses(doc: JsonObject) -> list[JsonObject]:
    """Billing first, then shipping: the billing address is the one the buyer typed themself."""
    return [*present(doc.child("billing_address")), *present(doc.child("shipping_address"))]


def _country(addresses: list[JsonObject], nested: JsonObject | None) -> str | None:
    default_address = nested.child("default_address") if nested else None
    code = first_text([*addresses, *present(default_address)], ("country_code",))
    return code.upper() if code is not None else None


def _tags(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    return tuple(tag.strip() for tag in raw.split(",") if tag.strip())
