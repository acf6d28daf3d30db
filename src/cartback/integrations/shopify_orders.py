"""Shopify orders and refunds: their money in the store's currency, their status, their refunds.

A multi-currency shop sells in the buyer's (presentment) currency; its reports are in the shop
currency. Every amount of an order comes twice, in `<field>_set`: `shop_money` and
`presentment_money`. The store's currency is the configured `currency`, else the shop currency
the payload names; an amount is read in it where the payload has it, and otherwise kept in the
shop money it came in (the report then lists it apart, never adding it to the store's figure).
Payloads of older versions without `_set` fields have their plain amounts in `currency`.

Refunds are paid back in the buyer's currency: a refund's transactions (kind `refund`, status
`success`) are summed, and converted to shop money at the rate the refund's own line amounts
show in both currencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from cartback.domain.money import minor_units
from cartback.domain.orders import OrderStatus, Refund
from cartback.integrations._json import JsonObject

__all__ = ["Money", "money_in", "refund", "refunds", "status"]

_SHOP, _PRESENTMENT = "shop_money", "presentment_money"
# Where a refund shows its amounts in both currencies, most telling first.
_REFUND_PARTS = (
    ("refund_line_items", "subtotal_set"),
    ("refund_shipping_lines", "subtotal_amount_set"),
    ("order_adjustments", "amount_set"),
)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str


def money_in(doc: JsonObject, key: str, target: str | None) -> Money | None:
    """`<key>_set` in the `target` currency (None: the shop's): its shop money, or its
    presentment money when that is the target, else the shop money as it is. None without a
    `<key>_set`."""
    bag = doc.child(f"{key}_set")
    if bag is None:
        return None
    found = [m for m in (_money(bag, _SHOP), _money(bag, _PRESENTMENT)) if m is not None]
    for money in found:
        if target is None or money.currency == target:
            return money
    return found[0] if found else None


def status(doc: JsonObject) -> tuple[OrderStatus, str | None]:
    """The order's status, and the shop's reason where it gives one (`cancel_reason`)."""
    if doc.text("cancelled_at") is not None:
        return OrderStatus.CANCELLED, doc.text("cancel_reason")
    financial = (doc.text("financial_status") or "").lower()
    if financial == "voided":
        return OrderStatus.VOIDED, None
    if financial == "refunded":
        return OrderStatus.REFUNDED, None
    return OrderStatus.OPEN, None


def refunds(order: JsonObject, target: str | None) -> tuple[Refund, ...]:
    """The refunds an order payload lists (`orders/updated`, `orders/cancelled`)."""
    found = (refund(entry, target) for entry in order.children("refunds"))
    return tuple(r for r in found if r is not None)


def refund(doc: JsonObject, target: str | None) -> Refund | None:
    """A refund's money back in shop money (in the buyer's, when `target` is that currency);
    None when it paid nothing back (a restock only)."""
    paid = [t for t in doc.children("transactions") if _is_paid_refund(t)]
    if not paid:
        return None
    amount = sum((t.require_amount("amount") for t in paid), Decimal("0"))
    sent_in = next((code.upper() for t in paid if (code := t.text("currency"))), None)
    key = doc.require_ident("id")
    rate = _rate(doc)
    if rate is None:
        return Refund(key, amount, sent_in)  # None: in the order's own currency
    shop, presentment, factor = rate
    if sent_in == shop or shop == presentment:
        return Refund(key, amount, shop)
    if sent_in not in (None, presentment):
        return Refund(key, amount, sent_in)  # neither currency the refund shows: not converted
    if target == presentment:
        return Refund(key, amount, presentment)
    converted = (amount * factor).quantize(
        Decimal(1).scaleb(-minor_units(shop)), rounding=ROUND_HALF_UP
    )
    return Refund(key, converted, shop)


def _is_paid_refund(transaction: JsonObject) -> bool:
    kind, state = transaction.text("kind"), transaction.text("status")
    return (kind or "").lower() == "refund" and (state or "").lower() == "success"


def _rate(doc: JsonObject) -> tuple[str, str, Decimal] | None:
    """(shop currency, presentment currency, shop units per presentment unit) from the first
    part of the refund that names an amount in both."""
    for parts, key in _REFUND_PARTS:
        for part in doc.children(parts):
            bag = part.child(key)
            shop = _money(bag, _SHOP) if bag is not None else None
            presentment = _money(bag, _PRESENTMENT) if bag is not None else None
            if shop is None or presentment is None:
                continue
            if shop.currency == presentment.currency:
                return shop.currency, presentment.currency, Decimal(1)
            if presentment.amount != 0:
                return shop.currency, presentment.currency, shop.amount / presentment.amount
    return None


def _money(bag: JsonObject, key: str) -> Money | None:
    entry = bag.child(key)
    if entry is None:
        return None
    amount = entry.amount("amount")
    code = entry.text("currency_code") or entry.text("currency")
    if amount is None or code is None:
        return None
    return Money(amount, code.upper())
