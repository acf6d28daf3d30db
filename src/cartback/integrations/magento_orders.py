"""Magento 2 money and order states: amounts in the store's currency, and what is not revenue.

Magento keeps every amount twice: in the base currency (`base_grand_total`, `base_currency_code`),
which its reports use, and in the currency the buyer saw (`grand_total`, `order_currency_code`;
a quote's `quote_currency_code`). The store's currency is the configured `currency`, else the
base currency; an amount is read on whichever side is in it, else on the base side (and the report
then lists the order apart).

An order whose `state` is `canceled` is cancelled; `closed` means refunded in full (credit memos
for everything). `total_refunded` is everything refunded so far, a single figure that replaces the
one before.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cartback.domain.orders import WHOLE_ORDER, OrderStatus, Refund
from cartback.integrations._json import JsonObject

__all__ = ["OrderMoney", "cart_store_money", "order_money", "order_status"]

_STATES = {"canceled": OrderStatus.CANCELLED, "closed": OrderStatus.REFUNDED}


@dataclass(frozen=True, slots=True)
class OrderMoney:
    currency: str
    total: Decimal
    discount: Decimal  # positive
    refunds: tuple[Refund, ...]


def order_money(doc: JsonObject, target: str | None) -> OrderMoney | None:
    """The order's money on the side in `target` (None: the base side), else the base side; None
    when the order names neither side's currency."""
    base = _side(doc, "base_", "base_currency_code")
    shown = _side(doc, "", "order_currency_code")
    if base is not None and shown is not None and base[0] == shown[0]:
        base = None  # one currency: the order's own fields, which every payload has
    sides = [side for side in (base, shown) if side is not None]
    if not sides:
        return None
    currency, prefix = next((side for side in sides if side[0] in (target, None)), sides[0])
    refunded = doc.amount(f"{prefix}total_refunded") or Decimal("0")
    return OrderMoney(
        currency=currency,
        total=doc.require_amount(f"{prefix}grand_total"),
        discount=abs(doc.amount(f"{prefix}discount_amount") or Decimal("0")),
        refunds=(Refund(WHOLE_ORDER, refunded, currency),) if refunded else (),
    )


def order_status(doc: JsonObject) -> OrderStatus:
    return _STATES.get((doc.text("state") or "").lower(), OrderStatus.OPEN)


def cart_store_money(
    docs: list[JsonObject], currency: str, target: str | None
) -> tuple[str | None, Decimal | None]:
    """(store currency, the cart's total in it) when the cart's `currency` is not the store's,
    read from `base_grand_total` of the first of `docs` (totals, quote) naming it; (None, None)
    when the cart is in the store's currency."""
    base = next((code for d in docs if (code := d.text("base_currency_code"))), None)
    store = target or (base.upper() if base else None)
    if store is None or store == currency:
        return None, None
    if base is None or base.upper() != store:
        return store, None
    amount = next((a for d in docs if (a := d.amount("base_grand_total")) is not None), None)
    return store, amount


def _side(doc: JsonObject, prefix: str, code_key: str) -> tuple[str, str] | None:
    code = doc.text(code_key)
    if code is None or doc.amount(f"{prefix}grand_total") is None:
        return None
    return code.upper(), prefix
