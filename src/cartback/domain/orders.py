"""What an order is worth: its status, its refunds, and whether it is revenue at all.

A voided, cancelled, refunded, failed or test order still closes its cart (the person checked
out: no more reminders), but it is not recovered revenue. Refunds reduce an order's revenue by
their amount, once per refund: shops tell of a refund more than once (Shopify in `refunds/create`
and again in `orders/updated`), so each is kept under its own key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from cartback.domain.money import in_minor_units

ZERO = Decimal("0")


class OrderStatus(StrEnum):
    OPEN = "open"  # placed: paid, or awaiting payment
    CANCELLED = "cancelled"
    VOIDED = "voided"  # the payment was authorised, then released
    REFUNDED = "refunded"  # in full
    FAILED = "failed"  # the payment failed


NOT_REVENUE = frozenset(
    {OrderStatus.CANCELLED, OrderStatus.VOIDED, OrderStatus.REFUNDED, OrderStatus.FAILED}
)

WHOLE_ORDER = "order"  # the refund key of a platform that only tells the total refunded


@dataclass(frozen=True, slots=True)
class Refund:
    """One refund of an order: `amount` (positive) in `currency`, None meaning the order's own.

    `key` is the platform's refund id. A platform that only tells the total refunded so far
    (Magento, the generic `order.updated`) uses `WHOLE_ORDER`: the later total replaces the
    earlier one."""

    key: str
    amount: Decimal
    currency: str | None = None


def counts(status: str, test: bool) -> bool:
    """Whether an order in this status can be revenue at all."""
    return not test and status not in NOT_REVENUE


def revenue(total: Decimal, status: str, test: bool, refunded: Decimal) -> Decimal:
    """What the order earned: its total less its refunds, nothing when it is not revenue."""
    if not counts(status, test):
        return ZERO
    return max(total - refunded, ZERO)


def merge_refunds(
    known: Mapping[str, Decimal], new: Iterable[Refund]
) -> tuple[dict[str, Decimal], list[Refund]]:
    """Refunds by key after `new` arrives, and those of `new` that changed anything."""
    merged = dict(known)
    changed = []
    for refund in new:
        if merged.get(refund.key) != refund.amount:
            merged[refund.key] = refund.amount
            changed.append(refund)
    return merged, changed


def refunded_total(refunds: Mapping[str, Decimal]) -> Decimal:
    return sum(refunds.values(), ZERO)


def words(amount: Decimal, currency: str) -> str:
    """An amount as a timeline writes it: `75.00 USD`."""
    return f"{in_minor_units(amount, currency)} {currency}"
