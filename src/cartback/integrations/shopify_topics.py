"""Shopify's checkout topics, and whether a body has its topic's shape.

The `X-Shopify-Topic` header is not covered by the signature: a signed checkout re-posted as
`checkouts/delete` (with a new webhook id) must not delete the cart. A delete carries only ids;
a checkout that is created or updated carries its line items. A body of the other shape is
refused, naming the field.
"""

from __future__ import annotations

from cartback.integrations._json import JsonObject

CHECKOUT_CREATE = "checkouts/create"
CHECKOUT_UPDATE = "checkouts/update"
CHECKOUT_DELETE = "checkouts/delete"


def fits_topic(doc: JsonObject, topic: str) -> None:
    """Raise PayloadError when `doc` has the shape of another topic than `topic`."""
    if topic == CHECKOUT_DELETE:
        for key in ("line_items", "total_price"):
            if key in doc.data:
                doc.fail(key, f"a {topic} body carries only ids; this looks like a checkout")
    elif topic in (CHECKOUT_CREATE, CHECKOUT_UPDATE) and "line_items" not in doc.data:
        doc.fail("line_items", f"missing: a {topic} body carries the checkout's line items")
