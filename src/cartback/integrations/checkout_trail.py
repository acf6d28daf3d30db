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
