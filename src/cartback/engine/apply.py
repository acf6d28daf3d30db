"""Applying domain events to the store, inside the ingest transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cartback.domain import cart as lifecycle
from cartback.domain.attribution import attribute
from cartback.domain.emails import normalize_email
from cartback.domain.events import (
    CartDeleted,
    CartUpdated,
    Channel,
    ConsentChanged,
    CustomerRedactRequested,
    DataRequested,
    Event,
    OrderChanged,
    OrderPlaced,
    ShopRedactRequested,
)
from cartback.domain.flow import Flow
from cartback.domain.links import link_problem
from cartback.domain.policy import Reason
from cartback.domain.records import (
    Cart,
    CartContents,
    CartStatus,
    ConsentEntry,
    DecisionAction,
    DecisionEntry,
    NewOrder,
)
from cartback.engine import order_changes, runs
from cartback.engine.privacy import Privacy, privacy_request
from cartback.store.base import Tx

log = logging.getLogger("cartback.ingest")


@dataclass(frozen=True, slots=True)
class Windows:
    click: timedelta
    send: timedelta


class EventApplier:
    def __init__(
        self, flows: Callable[[str], list[Flow]], windows: Windows, privacy: Privacy
    ) -> None:
        self.flows = flows
        self.windows = windows
        self.privacy = privacy

    def apply(self, tx: Tx, event: Event, now: datetime) -> None:
        match event:
            case CartUpdated():
                self._cart_updated(tx, event, now)
            case CartDeleted():
                self._cart_deleted(tx, event, now)
            case OrderPlaced():
                self._order_placed(tx, event, now)
            case OrderChanged():
                order_changes.apply(tx, event, now)
            case ConsentChanged():
                self._consent_changed(tx, event, now)
            case DataRequested() | CustomerRedactRequested() | ShopRedactRequested():
                privacy_request(tx, self.privacy, event, now)

    # carts -------------------------------------------------------------------------------

    def _cart_updated(self, tx: Tx, event: CartUpdated, now: datetime) -> None:
        unsafe = link_problem(event.recovery_url) if event.recovery_url else None
        contents = cart_contents(replace(event, recovery_url=None) if unsafe else event, now)
        cart = tx.carts.find(event.store_id, event.cart_key)
        if cart is None:
            cart, created = tx.carts.upsert(contents, now)
        else:
            created = False
        if not created:
            if not lifecycle.accepts_update(cart, event.occurred_at):
                log.info("cart update ignored", extra={"cart_id": cart.id, "status": cart.status})
                return
            tx.carts.update_contents(cart.id, contents, now)
        if unsafe is not None:
            detail = f"The shop's link back to the basket was not kept: it {unsafe}."
            tx.decisions.add(
                DecisionEntry(cart.id, now, DecisionAction.SKIP, Reason.UNSAFE_LINK, detail)
            )
        if event.enrichment and (created or _shop_facts(cart) != _shop_facts(contents)):
            note = DecisionEntry(cart.id, now, DecisionAction.ENRICH, "enriched", event.enrichment)
            tx.decisions.add(note)
        self._record_checkout_consent(tx, event, now)
        flows = self.flows(event.store_id)
        if runs.schedule(tx, cart.id, flows, contents.last_activity_at, now):
            tx.carts.change(cart.id, status=CartStatus.OPEN, abandoned_at=None)

    def _record_checkout_consent(self, tx: Tx, event: CartUpdated, now: datetime) -> None:
        """A ticked box on the checkout is consent; an unticked one withdraws nothing."""
        customer = event.customer
        given = (
            (Channel.SMS, event.consent.sms, customer.phone, "buyer_accepts_sms_marketing"),
            (
                Channel.EMAIL,
                event.consent.email,
                normalize_email(customer.email),
                "buyer_accepts_marketing",
            ),
        )
        for channel, granted, address, field in given:
            if not granted or not address:
                continue
            latest = tx.consent.latest(event.store_id, channel, address)
            if latest is not None and latest.granted:
                continue
            tx.consent.add(
                ConsentEntry(
                    store_id=event.store_id,
                    channel=str(channel),
                    address=address,
                    granted=True,
                    source="checkout",
                    occurred_at=event.occurred_at,
                    recorded_at=now,
                    customer_external_id=customer.external_id,
                    detail=f"{field}=true on checkout {event.cart_key}",
                )
            )

    def _cart_deleted(self, tx: Tx, event: CartDeleted, now: datetime) -> None:
        cart = tx.carts.find_for_delete(event.store_id, event.cart_key, event.cart_token)
        if cart is None or not lifecycle.may_delete(cart, event.occurred_at):
            return
        tx.carts.change(cart.id, status=CartStatus.DELETED, deleted_at=now, updated_at=now)
        detail = "The shop deleted the cart; pending steps were cancelled."
        runs.cancel(tx, cart.id, Reason.DELETED, detail, now)

    # orders ------------------------------------------------------------------------------

    def _order_placed(self, tx: Tx, event: OrderPlaced, now: datetime) -> None:
        existing = tx.orders.find(event.store_id, event.order_key)
        if existing is not None:
            if event.paid and not existing.paid:
                tx.orders.mark_paid(existing.id)
            order_changes.apply(tx, order_changes.from_placed(event), now)
            return
        cart = tx.carts.match_for_order(
            event.store_id,
            checkout_token=event.cart_key,
            cart_token=event.cart_token,
            customer_id=event.customer.external_id,
            email=normalize_email(event.customer.email),
            phone=event.customer.phone,
            since=event.occurred_at - self.windows.click,
        )
        order = new_order(event, now)
        if cart is not None:
            order = self._close_cart(tx, cart, event, order, now)
        else:
            log.info("order for an unknown cart", extra={"store": event.store_id})
        tx.orders.add(order)

    def _close_cart(
        self, tx: Tx, cart: Cart, event: OrderPlaced, order: NewOrder, now: datetime
    ) -> NewOrder:
        """Mark the cart bought and cancel its steps, in the ingest transaction; attribute."""
        locked = tx.carts.get_for_update(cart.id)
        if locked is None or not lifecycle.may_purchase(locked):
            return replace(order, cart_id=cart.id)
        tx.carts.change(
            cart.id, status=CartStatus.PURCHASED, purchased_at=event.occurred_at, updated_at=now
        )
        detail = (
            f"Order {event.order_key} was placed{order_changes.not_revenue_note(event)}; "
            "pending steps were cancelled."
        )
        runs.cancel(tx, cart.id, Reason.PURCHASED, detail, now)
        won = attribute(
            event.occurred_at, tx.messages.touches(cart.id), self.windows.click, self.windows.send
        )
        if won is None:
            return replace(order, cart_id=cart.id)
        return replace(
            order,
            cart_id=cart.id,
            recovered=True,
            attributed_message_id=won.message_id,
            attribution=str(won.basis),
        )

    # consent -----------------------------------------------------------------------------

    def _consent_changed(self, tx: Tx, event: ConsentChanged, now: datetime) -> None:
        email = normalize_email(event.email)
        address = event.phone if event.channel != Channel.EMAIL else email
        if not address:
            log.info("consent change without an address", extra={"store": event.store_id})
            return
        entry = ConsentEntry(
            store_id=event.store_id,
            channel=str(Channel.SMS if event.channel == Channel.RCS else event.channel),
            address=address,
            granted=event.granted,
            source=event.source,
            occurred_at=event.occurred_at,
            recorded_at=now,
            customer_external_id=event.customer_external_id,
            detail=event.detail,
        )
        latest = tx.consent.latest(entry.store_id, entry.channel, address)
        if latest is not None and _repeats(latest, entry):
            return
        tx.consent.add(entry)


def _shop_facts(cart: CartContents) -> tuple[object, ...]:
    """What the shop's admin API adds to a cart: a change of it goes on the timeline."""
    tags = tuple(sorted(cart.customer_tags))
    items = tuple((item.tags, item.collections) for item in cart.items)
    return (tags, cart.customer_orders_count, cart.customer_total_spent, items)


def _repeats(latest: ConsentEntry, entry: ConsentEntry) -> bool:
    """The same source saying the same again (a customer record read for every checkout
    update) changes nothing the ledger decides, so it is not added."""
    return (
        latest.source == entry.source
        and latest.granted == entry.granted
        and latest.occurred_at <= entry.occurred_at
    )


def cart_contents(event: CartUpdated, now: datetime) -> CartContents:
    customer = event.customer
    return CartContents(
        store_id=event.store_id,
        cart_key=event.cart_key,
        cart_token=event.cart_token,
        customer_external_id=customer.external_id,
        email=normalize_email(customer.email),
        phone=customer.phone,
        phone_raw=customer.phone_raw if customer.phone is None else None,
        first_name=customer.first_name,
        last_name=customer.last_name,
        country=customer.country,
        customer_orders_count=customer.orders_count,
        customer_total_spent=customer.total_spent,
        customer_tags=tuple(tag.strip().lower() for tag in customer.tags if tag.strip()),
        currency=event.currency,
        total=event.total,
        items=event.items,
        discount_codes=event.discount_codes,
        recovery_url=event.recovery_url,
        sms_consent=event.consent.sms,
        email_consent=event.consent.email,
        occurred_at=event.occurred_at,
        last_activity_at=min(event.occurred_at, now),
        phone_source=customer.phone_source,
        locale=event.locale,
        store_currency=event.store_currency,
        store_total=event.store_total,
        checkout_stage=event.trail.stage,
        source_name=event.trail.source_name,
        landing_site=event.trail.landing_site,
        referring_site=event.trail.referring_site,
    )


def new_order(event: OrderPlaced, now: datetime) -> NewOrder:
    return NewOrder(
        store_id=event.store_id,
        order_key=event.order_key,
        checkout_token=event.cart_key,
        cart_token=event.cart_token,
        customer_external_id=event.customer.external_id,
        email=normalize_email(event.customer.email),
        phone=event.customer.phone,
        currency=event.currency,
        total=event.total,
        discount_total=event.discount_total,
        paid=event.paid,
        placed_at=event.occurred_at,
        received_at=now,
        status=event.status,
        test=event.test,
        refunds=order_changes.refunds_in(event.refunds, event.currency),
    )
