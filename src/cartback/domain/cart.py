"""A cart's life: open → abandoned → purchased, or deleted. Which moves are legal, and when.

The engine asks these before it changes a stored cart; the store only records the outcome.
A live cart (open or abandoned) takes updates; an update never moves a cart back in time.
"""

from __future__ import annotations

from datetime import datetime

from cartback.domain.records import Cart, CartStatus


def accepts_update(cart: Cart, occurred_at: datetime) -> bool:
    """Whether a platform update (of its own time `occurred_at`) is written to the cart."""
    return cart.live and occurred_at >= cart.occurred_at


def may_delete(cart: Cart, occurred_at: datetime) -> bool:
    """A delete closes a live cart, unless the cart changed after the delete happened."""
    return cart.live and occurred_at >= cart.occurred_at


def may_purchase(cart: Cart) -> bool:
    """An order closes any cart not already bought (a deleted cart can still be bought)."""
    return cart.status != CartStatus.PURCHASED


def may_abandon(cart: Cart) -> bool:
    return cart.live


def has_contact(cart: Cart) -> bool:
    """Someone to write to: an email, a phone number, or at least what was given as one."""
    return bool(cart.email or cart.phone or cart.phone_raw)


def closed_reason(cart: Cart | None) -> CartStatus:
    """Why a run ends for a cart that is gone or no longer live: bought, else deleted."""
    if cart is not None and cart.status == CartStatus.PURCHASED:
        return CartStatus.PURCHASED
    return CartStatus.DELETED
