"""What the policy reads about a recipient right before a send, asked in one go.

Each answer is, by definition, what one of the repositories' own questions answers (see
`asked_one_by_one`): the in-memory store asks them one by one, the SQL store in one statement,
so that a send pays one round trip for them instead of eight. The contract suite holds the two to
the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from cartback.domain.records import Cart, Purchase

if TYPE_CHECKING:
    from cartback.store.base import Tx


@dataclass(frozen=True, slots=True)
class Ask:
    """The cart (its store, person and last activity) and the intended send."""

    cart: Cart
    run_id: int
    kind: str  # the consent kind, `sms` or `email`
    address: str | None  # where the message would go; None asks nothing about it
    blocked_addresses: Sequence[str]  # the address, and its erased hash (see domain.privacy)
    blocked_phones: Sequence[str]  # the cart's phone and its hash: a STOP from it ends all
    touched_since: datetime  # another system's touches count from here (now - cooldown)
    ordered: bool = True  # False: the cart is known bought, nothing to ask about orders


@dataclass(frozen=True, slots=True)
class Lookback:
    ordered_since: bool  # orders.ordered_since(store, email, phone, cart's last activity)
    consent: bool | None  # consent.latest(store, kind, address).granted; None: none on record
    blocked: bool  # consent.blocked(kind, blocked_addresses, blocked_phones)
    last_ours: datetime | None  # messages.last_to_recipient(address, exclude_run=run_id)
    last_theirs: datetime | None  # touches.last(address, kind, touched_since)
    newer_cart: bool  # carts.newer_live_cart_exists(the cart)
    last_purchase: datetime | None  # orders.last_purchase(email, phone)
    sms_in_run: int  # messages.sms_in_run(run_id)


@dataclass(frozen=True, slots=True)
class History:
    """The person's past with the store, as segments read it (see engine/segment_facts.py)."""

    purchases: list[Purchase]  # orders.purchases(store, email, phone)
    abandonments: list[datetime]  # carts.abandonments(the cart): their other carts'


class Lookbacks(Protocol):
    def before_send(self, ask: Ask) -> Lookback:
        """Every answer of `asked_one_by_one`, in as few round trips as the store can."""
        ...

    def history(self, cart: Cart) -> History:
        """`history_one_by_one`'s answer, in as few round trips as the store can."""
        ...


def asked_one_by_one(tx: Tx, ask: Ask) -> Lookback:
    """The definition: each answer from the repository that owns it."""
    cart, address = ask.cart, ask.address
    latest = tx.consent.latest(cart.store_id, ask.kind, address) if address else None
    asked = bool(ask.blocked_addresses or ask.blocked_phones)
    ours = tx.messages.last_to_recipient(address, exclude_run=ask.run_id) if address else None
    return Lookback(
        ordered_since=ask.ordered
        and tx.orders.ordered_since(cart.store_id, cart.email, cart.phone, cart.last_activity_at),
        consent=latest.granted if latest is not None else None,
        blocked=asked and tx.consent.blocked(ask.kind, ask.blocked_addresses, ask.blocked_phones),
        last_ours=ours,
        last_theirs=tx.touches.last(address, ask.kind, ask.touched_since) if address else None,
        newer_cart=tx.carts.newer_live_cart_exists(cart),
        last_purchase=tx.orders.last_purchase(cart.email, cart.phone),
        sms_in_run=tx.messages.sms_in_run(ask.run_id),
    )


def history_one_by_one(tx: Tx, cart: Cart) -> History:
    """The definition: each from the repository that owns it."""
    purchases = tx.orders.purchases(cart.store_id, cart.email, cart.phone)
    return History(purchases, tx.carts.abandonments(cart))


class OneByOne:
    """`Lookbacks` for a store whose questions cost no round trip (the in-memory store)."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def before_send(self, ask: Ask) -> Lookback:
        return asked_one_by_one(self.tx, ask)

    def history(self, cart: Cart) -> History:
        return history_one_by_one(self.tx, cart)
