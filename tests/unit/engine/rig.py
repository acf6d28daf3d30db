"""The engine on the in-memory store: a fake clock, fake SMS and email gateways, no database.

`Rig` plays the shops and their shoppers with domain events (what an integration's `parse`
returns), through the ingest service, and reads the outcome the way the API does (the cart's
story, the report). The config is built with the same YAML helpers as the integration tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from cartback.clock import FakeClock
from cartback.config import Settings
from cartback.config.source import read_yaml
from cartback.domain.breakdown import By
from cartback.domain.events import (
    CartDeleted,
    CartUpdated,
    Channel,
    Consent,
    ConsentChanged,
    Customer,
    Event,
    LineItem,
    OrderPlaced,
)
from cartback.domain.records import Cart, DecisionEntry, Message, Run
from cartback.engine.ingest import Delivery, IngestResult
from cartback.engine.measuring import Scope
from cartback.engine.report import StoreReport, report
from cartback.engine.timeline import CartStory, cart_story
from cartback.runtime import Runtime, build
from cartback.testing import FakeGateway, InMemoryStore
from tests.integration.conftest import START, TOKEN

ALICE_PHONE = "+4520123456"
ALICE_EMAIL = "alice@example.com"
BOB_PHONE = "+4520123457"
BOB_EMAIL = "bob@example.com"
_deliveries = itertools.count(1)


def settings_from(config: str) -> Settings:
    text = config.replace("{db_url}", "sqlite:///never-opened.db").replace("{token}", TOKEN)
    data, _lines = read_yaml(text)
    return Settings.model_validate(data)


@dataclass
class Rig:
    runtime: Runtime
    store: InMemoryStore
    clock: FakeClock
    sms: FakeGateway
    email: FakeGateway

    # the shops ------------------------------------------------------------------------------

    def currency(self, store_id: str) -> str:
        """The store's configured currency (DKK without one): carts and orders are in it."""
        configured = self.runtime.settings.store(store_id)
        return (configured.currency if configured is not None else None) or "DKK"

    def deliver(self, store_id: str, *events: Event, key: str | None = None) -> IngestResult:
        """One webhook delivery carrying `events`, through the ingest service."""
        delivery = Delivery(
            platform="generic",
            store_id=store_id,
            topic="test",
            delivery_key=key or f"delivery-{next(_deliveries)}",
            headers={},
            body=b"{}",
        )
        return self.runtime.ingest.receive(delivery, lambda _body, _at: list(events))

    def cart(
        self,
        store: str,
        key: str,
        *,
        phone: str | None = ALICE_PHONE,
        phone_raw: str | None = None,
        phone_source: str | None = None,
        email: str | None = ALICE_EMAIL,
        total: str = "200.00",
        first_name: str = "Alice",
        consent: Consent | None = None,
        tags: Sequence[str] = (),
        orders_count: int | None = None,
        items: Sequence[LineItem] | None = None,
        discount_codes: Sequence[str] = (),
        cart_token: str | None = None,
        at: datetime | None = None,
    ) -> IngestResult:
        customer = Customer(
            email=email,
            phone=phone,
            phone_raw=phone_raw,
            phone_source=phone_source,
            first_name=first_name,
            orders_count=orders_count,
            tags=tuple(tags),
        )
        event = CartUpdated(
            store_id=store,
            cart_key=key,
            occurred_at=at or self.clock.now(),
            currency=self.currency(store),
            total=Decimal(total),
            customer=customer,
            consent=Consent(sms=True, email=True) if consent is None else consent,
            recovery_url=f"https://{store}.example/cart/{key}?restore=1",
            cart_token=cart_token,
            items=tuple(items or (LineItem("Wool scarf", 1, Decimal(total)),)),
            discount_codes=tuple(discount_codes),
        )
        return self.deliver(store, event)

    def order(
        self,
        store: str,
        key: str,
        *,
        email: str | None = ALICE_EMAIL,
        phone: str | None = None,
        total: str = "200.00",
        cart_key: str | None = None,
        discount_total: str = "0",
        at: datetime | None = None,
        **more: Any,
    ) -> IngestResult:
        """An order; `more` sets its other fields (status, test, refunds, currency...)."""
        event = OrderPlaced(
            store_id=store,
            order_key=key,
            occurred_at=at or self.clock.now(),
            currency=self.currency(store),
            total=Decimal(total),
            customer=Customer(email=email, phone=phone),
            cart_key=cart_key,
            paid=True,
            discount_total=Decimal(discount_total),
        )
        return self.deliver(store, replace(event, **more))

    def consent(self, store: str, channel: Channel, granted: bool, **address: str) -> None:
        event = ConsentChanged(
            store_id=store,
            channel=channel,
            granted=granted,
            occurred_at=self.clock.now(),
            source="test:consent",
            **address,
        )
        self.deliver(store, event)

    def delete(self, store: str, key: str | None, token: str | None = None) -> None:
        self.deliver(store, CartDeleted(store, key, self.clock.now(), cart_token=token))

    # the worker -----------------------------------------------------------------------------

    def tick(self) -> int:
        return self.runtime.scheduler.tick()

    def advance(self, delta: timedelta) -> int:
        self.clock.advance(delta)
        return self.tick()

    # what happened --------------------------------------------------------------------------

    def found(self, store: str, key: str) -> Cart:
        with self.store.reading() as tx:
            cart = tx.carts.find(store, key)
        if cart is None:
            raise LookupError(f"no cart {key!r} in {store!r}")
        return cart

    def story(self, store: str, key: str) -> CartStory:
        story = cart_story(self.store, self.found(store, key).id)
        if story is None:
            raise LookupError(key)
        return story

    def run(self, store: str, key: str) -> Run:
        run = self.story(store, key).run
        if run is None:
            raise LookupError(f"cart {key!r} has no run")
        return run

    def messages(self, store: str, key: str) -> list[Message]:
        return self.story(store, key).messages

    def decisions(self, store: str, key: str) -> list[DecisionEntry]:
        with self.store.reading() as tx:
            return tx.decisions.for_cart(self.found(store, key).id)

    def reasons(self, store: str, key: str) -> list[str]:
        return [entry.reason for entry in self.decisions(store, key)]

    def decision(self, store: str, key: str, reason: str) -> DecisionEntry:
        [found] = [entry for entry in self.decisions(store, key) if entry.reason == reason]
        return found

    def report(self, *stores: str, by: By | None = None) -> StoreReport:
        wanted = stores or tuple(s.id for s in self.runtime.settings.stores)
        settings = self.runtime.settings
        chosen = [(s.id, s.currency) for s in settings.stores if s.id in wanted]
        scope = Scope(settings.attribution.click_window, settings.domain_flows(), by=by)
        return report(self.store, chosen, None, scope).total

    def sent_to(self, address: str) -> list[str]:
        return [m.text for m in (*self.sms.sent, *self.email.sent) if m.to == address]


def make_rig(config: str, start: datetime = START, **build_options: Any) -> Rig:
    """A runtime on an in-memory store whose SMS and email go to fake gateways."""
    clock = FakeClock(start)
    sms, email = FakeGateway(clock, name="fake-sms"), FakeGateway(clock, name="fake-email")
    store = InMemoryStore()
    runtime = build(
        settings_from(config),
        clock=clock,
        gateways={Channel.SMS: sms, Channel.EMAIL: email},
        store=store,
        **build_options,
    )
    return Rig(runtime, store, clock, sms, email)
