"""Everything the in-memory store keeps: one table per SQL table, and the indexes the engine
looks things up by (the same ones the schema has, so lookups stay cheap at 100,000 carts)."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime

from cartback.domain.checkout import Alert
from cartback.domain.experiments import Winner
from cartback.domain.privacy import PrivacyEntry
from cartback.domain.records import (
    Cart,
    Click,
    ConsentEntry,
    Cursor,
    DecisionEntry,
    Delivery,
    Link,
    Message,
    Open,
    Order,
    Reply,
    Run,
    RunStatus,
    SendAttempt,
    Suppression,
)
from cartback.testing._tables import Ids, Index, Journal, Table, Unique

TouchKey = tuple[str, str, datetime, str]  # address, channel, sent_at, source


@dataclass(frozen=True, slots=True)
class PoolCode:
    id: int
    store_id: str
    code: str
    imported_at: datetime
    expires_at: datetime | None = None
    used_by_cart_id: int | None = None
    used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class KeptReply:
    reply: Reply
    action: str
    recorded_at: datetime


class DueRuns:
    """Pending runs by due time: a heap with lazy deletion. Every write of a pending run pushes
    its (due, id); an entry that no longer matches its run is dropped when it comes up. Due
    times are POSIX timestamps in the heap: floats compare far faster than aware datetimes."""

    def __init__(self) -> None:
        self.heap: list[tuple[float, int]] = []

    def note(self, run_id: int, run: Run) -> None:
        if run.status == RunStatus.PENDING and run.next_run_at is not None:
            heapq.heappush(self.heap, (run.next_run_at.timestamp(), run_id))

    def pop_due(self, runs: Table[int, Run], now: datetime, limit: int) -> list[Run]:
        found: dict[int, Run] = {}
        heap, until = self.heap, now.timestamp()
        while heap and len(found) < limit and heap[0][0] <= until:
            due, run_id = heapq.heappop(heap)
            run = runs.get(run_id)
            if run is None or run_id in found or run.status != RunStatus.PENDING:
                continue
            if run.next_run_at is not None and run.next_run_at.timestamp() == due:
                found[run_id] = run
        if len(heap) > 3 * len(runs) + 1024:
            self.rebuild(runs)
        return list(found.values())

    def next_due(self, runs: Table[int, Run]) -> float | None:
        """The earliest due time of a pending run (POSIX), dropping stale entries on the way."""
        heap = self.heap
        while heap:
            due, run_id = heap[0]
            run = runs.get(run_id)
            if (
                run is not None
                and run.status == RunStatus.PENDING
                and run.next_run_at is not None
                and run.next_run_at.timestamp() == due
            ):
                return due
            heapq.heappop(heap)
        return None

    def rebuild(self, runs: Table[int, Run]) -> None:
        self.heap = []
        for run_id, run in runs.rows.items():
            self.note(run_id, run)


class Data:
    def __init__(self) -> None:
        self.journal = journal = Journal()
        self.cart_ids, self.order_ids, self.run_ids = Ids(), Ids(), Ids()
        self.decision_ids, self.click_ids, self.consent_ids = Ids(), Ids(), Ids()
        self.delivery_ids, self.code_ids = Ids(), Ids()

        self.cart_by_key: Unique[int, Cart] = Unique(
            "carts (store_id, cart_key)", lambda c: (c.store_id, c.cart_key)
        )
        self.carts_by_token: Index[int, Cart] = Index(lambda c: _pair(c.store_id, c.cart_token))
        self.carts_by_email: Index[int, Cart] = Index(lambda c: _pair(c.store_id, c.email))
        self.carts_by_store_phone: Index[int, Cart] = Index(lambda c: _pair(c.store_id, c.phone))
        self.carts_by_customer: Index[int, Cart] = Index(
            lambda c: _pair(c.store_id, c.customer_external_id)
        )
        self.carts_by_phone: Index[int, Cart] = Index(lambda c: c.phone)
        self.carts: Table[int, Cart] = Table(
            journal,
            "carts",
            uniques=(self.cart_by_key,),
            indexes=(
                self.carts_by_token,
                self.carts_by_email,
                self.carts_by_store_phone,
                self.carts_by_customer,
                self.carts_by_phone,
            ),
        )

        self.order_by_key: Unique[int, Order] = Unique(
            "orders (store_id, order_key)", lambda o: (o.store_id, o.order_key)
        )
        self.orders_by_cart: Index[int, Order] = Index(lambda o: o.cart_id)
        self.orders_by_email: Index[int, Order] = Index(lambda o: o.email)
        self.orders_by_phone: Index[int, Order] = Index(lambda o: o.phone)
        self.orders: Table[int, Order] = Table(
            journal,
            "orders",
            uniques=(self.order_by_key,),
            indexes=(self.orders_by_cart, self.orders_by_email, self.orders_by_phone),
        )

        self.due = DueRuns()
        self.run_by_cart: Unique[int, Run] = Unique("runs (cart_id)", lambda r: r.cart_id)
        self.runs: Table[int, Run] = Table(
            journal, "runs", uniques=(self.run_by_cart,), on_put=self.due.note
        )
        self.decisions_by_cart: Index[int, DecisionEntry] = Index(lambda d: d.cart_id)
        self.decisions: Table[int, DecisionEntry] = Table(
            journal, "decisions", indexes=(self.decisions_by_cart,)
        )

        self.message_by_step: Unique[str, Message] = Unique(
            "messages (run_id, step_index)",
            lambda m: _pair(m.run_id, m.step_index) if m.run_id is not None else None,
        )
        self.messages_by_cart: Index[str, Message] = Index(lambda m: m.cart_id)
        self.messages_by_run: Index[str, Message] = Index(lambda m: m.run_id)
        self.messages_by_recipient: Index[str, Message] = Index(lambda m: m.recipient)
        self.messages_by_provider_id: Index[str, Message] = Index(
            lambda m: _pair(m.provider, m.provider_message_id)
        )
        self.messages: Table[str, Message] = Table(
            journal,
            "messages",
            uniques=(self.message_by_step,),
            indexes=(
                self.messages_by_cart,
                self.messages_by_run,
                self.messages_by_recipient,
                self.messages_by_provider_id,
            ),
        )
        self.attempts_by_message: Index[tuple[str, int], SendAttempt] = Index(
            lambda a: a.message_id
        )
        self.attempts: Table[tuple[str, int], SendAttempt] = Table(
            journal, "message_attempts", indexes=(self.attempts_by_message,)
        )
        self.links: Table[str, Link] = Table(journal, "links")
        self.clicks_by_cart: Index[int, Click] = Index(lambda c: c.cart_id)
        self.clicks_by_message: Index[int, Click] = Index(lambda c: c.message_id)
        self.clicks: Table[int, Click] = Table(
            journal, "clicks", indexes=(self.clicks_by_cart, self.clicks_by_message)
        )
        self.open_ids = Ids()
        self.opens_by_message: Index[int, Open] = Index(lambda o: o.message_id)
        self.opens: Table[int, Open] = Table(journal, "opens", indexes=(self.opens_by_message,))
        self.winners: Table[str, Winner] = Table(journal, "experiment_winners")

        self.consent_by_address: Index[int, ConsentEntry] = Index(lambda e: e.address)
        self.consent: Table[int, ConsentEntry] = Table(
            journal, "consent_ledger", indexes=(self.consent_by_address,)
        )
        self.suppressions_by_address: Index[tuple[str, str], Suppression] = Index(
            lambda s: s.address
        )
        self.suppressions: Table[tuple[str, str], Suppression] = Table(
            journal, "suppressions", indexes=(self.suppressions_by_address,)
        )
        self.replies: Table[tuple[str, str], KeptReply] = Table(journal, "inbound_messages")

        self.delivery_by_key: Unique[int, Delivery] = Unique(
            "deliveries (platform, store_id, delivery_key)",
            lambda d: None if d.delivery_key is None else (d.platform, d.store_id, d.delivery_key),
        )
        self.deliveries: Table[int, Delivery] = Table(
            journal, "deliveries", uniques=(self.delivery_by_key,)
        )
        self.delivery_leases: Table[int, datetime] = Table(journal, "delivery leases")
        self.touches_by_address: Index[TouchKey, TouchKey] = Index(lambda t: t[0])
        self.touches: Table[TouchKey, TouchKey] = Table(
            journal, "touches", indexes=(self.touches_by_address,)
        )
        self.code_by_store_code: Unique[int, PoolCode] = Unique(
            "discount_codes (store_id, code)", lambda c: (c.store_id, c.code)
        )
        self.codes_by_store: Index[int, PoolCode] = Index(lambda c: c.store_id)
        self.codes_by_cart: Index[int, PoolCode] = Index(
            lambda c: _pair(c.store_id, c.used_by_cart_id)
        )
        self.codes: Table[int, PoolCode] = Table(
            journal,
            "discount_codes",
            uniques=(self.code_by_store_code,),
            indexes=(self.codes_by_store, self.codes_by_cart),
        )
        self.cursors: Table[str, Cursor] = Table(journal, "cursors")
        self.privacy_ids = Ids()
        self.privacy_log: Table[int, PrivacyEntry] = Table(journal, "privacy_log")
        self.alert_ids = Ids()
        self.alert_by_key: Unique[int, Alert] = Unique(
            "alerts (store_id, stage, day)", lambda a: (a.store_id, a.stage, a.day)
        )
        self.alerts: Table[int, Alert] = Table(journal, "alerts", uniques=(self.alert_by_key,))
        self.secrets: Table[str, str] = Table(journal, "secrets")


def _pair(first: object, second: object) -> tuple[object, object] | None:
    """An index key that is NULL when its second part is."""
    return None if second is None else (first, second)
