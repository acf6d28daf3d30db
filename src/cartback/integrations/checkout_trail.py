"""The checkout stage a Shopify checkout reached, and the visit it came from, for diagnostics.

Shopify fills a checkout's fields as the buyer goes: an email or phone (contact), a
`shipping_address`, `shipping_lines` once a rate is chosen, and `gateway` once a payment was
attempted. `source_name` (web, pos, an app), `landing_site` and `referring_site` tell where the
visit came from.
"""

from __future__ import annotations

from cartback.domain.checkout import Trail, stage_reached
from cartback.domain.events import Customer
from cartback.integrations._json import JsonObject


def shopify_trail(doc: JsonObject, buyer: Customer) -> Trail:
    address = doc.child("shipping_address")
    stage = stage_reached(
        contact=bool(buyer.email or buyer.phone or buyer.phone_raw),
        shipping_address=address is not None and bool(address.text("address1")),
        shipping_method=bool(doc.children("shipping_lines")),
        payment=bool(doc.text("gateway")),
    )
    return Trail(
        stage=stage,
        source_name=doc.text("source_name"),
        landing_site=doc.text("landing_site"),
        referring_site=doc.text("referring_site"),
    )


# WooCommerce keeps a pending order's checkout as the order itself: a `shipping` address, the
# `shipping_lines` once a method is chosen, and a `payment_method` once the buyer paid (or tried:
# a `failed` order). Its order attribution (WooCommerce 8.5+) is in the order's meta_data.
_WOO_ATTRIBUTION = {
    "source_name": ("_wc_order_attribution_device_type", "_wc_order_attribution_source_type"),
    "landing_site": ("_wc_order_attribution_session_entry",),
    "referring_site": ("_wc_order_attribution_referrer",),
}


def woocommerce_trail(doc: JsonObject, buyer: Customer) -> Trail:
    shipping = doc.child("shipping")
    meta = {
        key: value
        for entry in doc.children("meta_data")
        if (key := entry.text("key")) and isinstance(value := entry.data.get("value"), str)
    }
    stage = stage_reached(
        contact=bool(buyer.email or buyer.phone or buyer.phone_raw),
        shipping_address=shipping is not None and bool(shipping.text("address_1")),
        shipping_method=bool(doc.children("shipping_lines")),
        payment=bool(doc.text("payment_method")) and doc.text("status") == "failed",
    )
    found = {
        field: next((meta[key] for key in keys if meta.get(key)), None)
        for field, keys in _WOO_ATTRIBUTION.items()
    }
    return Trail(stage, found["source_name"], found["landing_site"], found["referring_site"])


def magento_trail(cart: JsonObject, buyer: Customer) -> Trail:
    """A Magento quote: its first shipping assignment's address and method (the payment is not
    in the quote, so no Magento cart is known to have reached `payment`)."""
    extension = cart.child("extension_attributes")
    assignments = extension.children("shipping_assignments") if extension is not None else []
    shipping = assignments[0].child("shipping") if assignments else None
    address = shipping.child("address") if shipping is not None else None
    return Trail(
        stage_reached(
            contact=bool(buyer.email or buyer.phone or buyer.phone_raw),
            shipping_address=address is not None and bool(address.data.get("street")),
            shipping_method=shipping is not None and bool(shipping.text("method")),
            payment=False,
        )
    )
