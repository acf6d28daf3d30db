"""What segments are evaluated on: the cart, and the person's history with the shop."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from cartback.domain.events import LineItem
from cartback.domain.phone import phone_country
from cartback.domain.records import Cart, CartContents
from cartback.domain.segments import ItemFacts, SegmentFacts
from cartback.store.base import Tx


def segment_facts(tx: Tx, cart: Cart, now: datetime, *, abandoning: bool = False) -> SegmentFacts:
    """`abandoning`: the cart is being abandoned now, and that abandonment counts already."""
    history = tx.lookback.history(cart)
    purchases = history.purchases
    basket, currency = basket_value(cart)
    spent = (
        sum((p.total for p in purchases if p.currency in (None, currency)), Decimal("0"))
        if purchases
        else None
    )
    at = cart.abandoned_at or (now if abandoning else None)
    return SegmentFacts(
        basket_value=basket,
        currency=currency,
        # The platform's own figures where it sends them; else what this store saw.
        orders_count=cart.customer_orders_count
        if cart.customer_orders_count is not None
        else len(purchases),
        total_spent=cart.customer_total_spent if cart.customer_total_spent is not None else spent,
        last_order_at=max((p.placed_at for p in purchases), default=None),
        customer_tags=frozenset(cart.customer_tags),
        items=tuple(_item(item) for item in cart.items),
        country=cart.country or (phone_country(cart.phone) if cart.phone else None),
        cart_updates=cart.update_count,
        abandonments=tuple(sorted((*((at,) if at else ()), *history.abandonments))),
        now=now,
    )


def basket_value(cart: CartContents) -> tuple[Decimal | None, str]:
    """The basket in the store's currency, and that currency; None when the shop gave the
    basket in the buyer's currency only."""
    if cart.store_currency is None:
        return cart.total, cart.currency
    return cart.store_total, cart.store_currency


def _item(item: LineItem) -> ItemFacts:
    return ItemFacts(
        sku=item.sku,
        tags=frozenset(tag.strip().lower() for tag in item.tags),
        collections=frozenset(name.strip().lower() for name in item.collections),
    )
