"""Applying domain events to the store, inside the ingest transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from cartback.domain.attribution import attribute
from cartback.domain.events import (
    CartDeleted,
    CartUpdated,
    Channel,
    ConsentChanged,
    Event,
    OrderPlaced,
)
from cartback.domain.flow import Flow
from cartback.store import carts, consent, messages, queue
from cartback.store.types import AnyRow

log = logging.getLogger("cartback.ingest")


@dataclass(frozen=True, slots=True)
class Windows:
    click: timedelta
    send: timedelta


class EventApplier:
    def __init__(self, flows: Callable[[str], list[Flow]], windows: Windows) -> None:
        self.flows = flows
        self.windows = windows

    def apply(self, conn: Connection, event: Event, now: datetime) -> None:
        match event:
            case CartUpdated():
                self._cart_updated(conn, event, now)
            case CartDeleted():
                self._cart_deleted(conn, event, now)
            case OrderPlaced():
                self._order_placed(conn, event, now)
            case ConsentChanged():
                self._consent_changed(conn, event, now)

    # carts -------------------------------------------------------------------------------

    def _cart_updated(self, conn: Connection, event: CartUpdated, now: datetime) -> None:
        row = carts.find(conn, event.store_id, event.cart_key)
        if row is not None and (
            event.occurred_at < row.occurred_at or row.status not in carts.LIVE
        ):
            log.info("cart update ignored", extra={"cart_id": row.id, "status": row.status})
            return
        values = _cart_values(event, now)
        if row is None:
            values.update(status=carts.OPEN, created_at=now)
            cart_id = carts.insert_cart(conn, values)
        else:
            cart_id = row.id
            carts.update_cart(conn, cart_id, values)
            carts.bump_update_count(conn, cart_id)
        self._record_checkout_consent(conn, event, now)
        self._schedule(conn, cart_id, event.store_id, values["last_activity_at"], now)

    def _schedule(
        self, conn: Connection, cart_id: int, store_id: str, active_at: datetime, now: datetime
    ) -> None:
        """Each update restarts the abandonment timer, unless the recovery already messaged."""
        flows = self.flows(store_id)
        if not flows:
            return
        # The shortest wait of the store's flows; the flow is chosen when the time comes, and
        # one that waits longer sends the run back to sleep (see the scheduler).
        soonest = min(flows, key=lambda flow: flow.abandon_after)
        due = active_at + soonest.abandon_after
        run = queue.for_cart(conn, cart_id)
        if run is None:
            queue.start(conn, cart_id, flows[0].id, due, now)
            return
        if run.status != queue.PENDING or messages.sent_for_run(conn, run.id):
            return
        queue.restart_timer(conn, run.id, due, now)
        carts.update_cart(conn, cart_id, {"status": carts.OPEN, "abandoned_at": None})

    def _record_checkout_consent(self, conn: Connection, event: CartUpdated, now: datetime) -> None:
        """A ticked box on the checkout is consent; an unticked one withdraws nothing."""
        given = (
            (Channel.SMS, event.consent.sms, event.customer.phone, "buyer_accepts_sms_marketing"),
            (
                Channel.EMAIL,
                event.consent.email,
                _email(event.customer.email),
                "buyer_accepts_marketing",
            ),
        )
        for channel, granted, address, field in given:
            if granted and address and not consent.granted(conn, event.store_id, channel, address):
                consent.record(
                    conn,
                    {
                        "store_id": event.store_id,
                        "channel": str(channel),
                        "address": address,
                        "granted": True,
                        "customer_external_id": event.customer.external_id,
                        "source": "checkout",
                        "detail": f"{field}=true on checkout {event.cart_key}",
                        "occurred_at": event.occurred_at,
                        "recorded_at": now,
                    },
                )

    def _cart_deleted(self, conn: Connection, event: CartDeleted, now: datetime) -> None:
        row = carts.find_deleted_target(conn, event.store_id, event.cart_key, event.cart_token)
        if row is None or row.status not in carts.LIVE or event.occurred_at < row.occurred_at:
            return
        carts.update_cart(
            conn, row.id, {"status": carts.DELETED, "deleted_at": now, "updated_at": now}
        )
        _cancel(
            conn, row.id, "deleted", "The shop deleted the cart; pending steps were cancelled.", now
        )

    # orders ------------------------------------------------------------------------------

    def _order_placed(self, conn: Connection, event: OrderPlaced, now: datetime) -> None:
        existing = carts.find_order(conn, event.store_id, event.order_key)
        if existing is not None:
            if event.paid and not existing.paid:
                carts.update_order(conn, existing.id, {"paid": True})
            return
        cart = self._matching_cart(conn, event)
        values = _order_values(event, now)
        if cart is not None:
            values.update(self._close_cart(conn, cart, event, now))
        carts.insert_order(conn, values)
        if cart is None:
            log.info("order for an unknown cart", extra={"store": event.store_id})

    def _matching_cart(self, conn: Connection, event: OrderPlaced) -> AnyRow | None:
        return carts.match_for_order(
            conn,
            event.store_id,
            checkout_token=event.cart_key,
            cart_token=event.cart_token,
            customer_id=event.customer.external_id,
            email=_email(event.customer.email),
            phone=event.customer.phone,
            since=event.occurred_at - self.windows.click,
        )

    def _close_cart(
        self, conn: Connection, cart: AnyRow, event: OrderPlaced, now: datetime
    ) -> dict[str, Any]:
        """Mark the cart bought and cancel its steps, in the ingest transaction; attribute."""
        locked = carts.get_for_update(conn, cart.id)
        if locked is None or locked.status == carts.PURCHASED:
            return {"cart_id": cart.id}
        carts.update_cart(
            conn,
            cart.id,
            {"status": carts.PURCHASED, "purchased_at": event.occurred_at, "updated_at": now},
        )
        _cancel(
            conn,
            cart.id,
            "purchased",
            f"Order {event.order_key} was placed; pending steps were cancelled.",
            now,
        )
        won = attribute(
            event.occurred_at,
            messages.touches(conn, cart.id),
            self.windows.click,
            self.windows.send,
        )
        if won is None:
            return {"cart_id": cart.id}
        return {
            "cart_id": cart.id,
            "recovered": True,
            "attributed_message_id": won.message_id,
            "attribution": str(won.basis),
        }

    # consent -----------------------------------------------------------------------------

    def _consent_changed(self, conn: Connection, event: ConsentChanged, now: datetime) -> None:
        address = event.phone if event.channel != Channel.EMAIL else _email(event.email)
        if not address:
            log.info("consent change without an address", extra={"store": event.store_id})
            return
        consent.record(
            conn,
            {
                "store_id": event.store_id,
                "channel": str(Channel.SMS if event.channel == Channel.RCS else event.channel),
                "address": address,
                "granted": event.granted,
                "customer_external_id": event.customer_external_id,
                "source": event.source,
                "detail": event.detail,
                "occurred_at": event.occurred_at,
                "recorded_at": now,
            },
        )


def _cancel(conn: Connection, cart_id: int, reason: str, detail: str, now: datetime) -> None:
    run = queue.cancel_for_cart(conn, cart_id, reason, now)
    if run is None:
        return
    queue.record_decision(
        conn,
        cart_id=cart_id,
        run_id=run.id,
        flow_id=run.flow_id,
        step_index=run.step_index,
        at=now,
        action="cancel",
        reason=reason,
        detail=detail,
    )


def _email(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    return value or None


def _cart_values(event: CartUpdated, now: datetime) -> dict[str, Any]:
    customer = event.customer
    return {
        "store_id": event.store_id,
        "cart_key": event.cart_key,
        "cart_token": event.cart_token,
        "customer_external_id": customer.external_id,
        "email": _email(customer.email),
        "phone": customer.phone,
        "phone_raw": customer.phone_raw if customer.phone is None else None,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "country": customer.country,
        "customer_orders_count": customer.orders_count,
        "customer_total_spent": customer.total_spent,
        "customer_tags": [tag.strip().lower() for tag in customer.tags if tag.strip()],
        "currency": event.currency,
        "total": event.total,
        "items": [_item(item) for item in event.items],
        "discount_codes": list(event.discount_codes),
        "recovery_url": event.recovery_url,
        "sms_consent": event.consent.sms,
        "email_consent": event.consent.email,
        "occurred_at": event.occurred_at,
        "last_activity_at": min(event.occurred_at, now),
        "updated_at": now,
    }


def _item(item: Any) -> dict[str, Any]:
    data = asdict(item)
    data["price"] = str(item.price)
    data["tags"] = list(item.tags)
    return data


def _order_values(event: OrderPlaced, now: datetime) -> dict[str, Any]:
    return {
        "store_id": event.store_id,
        "order_key": event.order_key,
        "checkout_token": event.cart_key,
        "cart_token": event.cart_token,
        "customer_external_id": event.customer.external_id,
        "email": _email(event.customer.email),
        "phone": event.customer.phone,
        "currency": event.currency,
        "total": event.total,
        "discount_total": event.discount_total,
        "paid": event.paid,
        "placed_at": event.occurred_at,
        "received_at": now,
        "recovered": False,
    }
