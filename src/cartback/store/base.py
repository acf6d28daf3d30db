"""The store seam: a unit of work with typed repositories, returning domain records.

Two implementations honour this contract (one shared contract suite tests both): `SqlStore`
(SQLite and PostgreSQL) and `cartback.testing.InMemoryStore`; the engine knows only these.

    with store.transaction() as tx:      # one write transaction: all or nothing
        cart = tx.carts.get(cart_id)
        tx.decisions.add(DecisionEntry(...))

Rules every implementation keeps:
- A transaction commits when its block ends and rolls back when it raises. No network call
  happens inside one (the engine decides and commits, calls out, then records the outcome).
- `transaction()` takes the write lock up front where the database has one lock (SQLite:
  BEGIN IMMEDIATE); `get_for_update` and `hold` lock rows where it has row locks (PostgreSQL).
- `lock_recipient` serialises sends to one address across workers until the transaction ends.
- Times come back aware UTC; amounts come back as the Decimal that went in.

The change sets of `change`/`update` and `StoreConflict` live in `store/changes.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Protocol, Unpack

from cartback.domain.figures import Activity, StoreFigures
from cartback.domain.records import (
    Cart,
    CartContents,
    CartSearch,
    Claim,
    Click,
    CodeImport,
    ConsentEntry,
    Cursor,
    Link,
    Message,
    MessageTouch,
    NewDelivery,
    NewOrder,
    Order,
    Purchase,
    Reply,
    SendAttempt,
    Suppression,
    Touch,
)
from cartback.store.changes import CartChanges, MessageChanges, OrderChanges, StoreConflict
from cartback.store.decisions import Decisions
from cartback.store.deliveries import Deliveries
from cartback.store.diagnostics import Diagnostics
from cartback.store.lookback import Lookbacks
from cartback.store.measure import Measurements
from cartback.store.privacy import PrivacyRecords
from cartback.store.runs import Runs
from cartback.store.secrets import Secrets
from cartback.store.sent import Onward
from cartback.store.upkeep import Upkeep

__all__ = [
    "CartChanges",
    "MessageChanges",
    "OrderChanges",
    "Store",
    "StoreConflict",
    "Tx",
]


class Carts(Protocol):
    def get(self, cart_id: int) -> Cart | None: ...
    def get_for_update(self, cart_id: int) -> Cart | None:
        """The cart, locked against concurrent writers until the transaction ends."""
        ...

    def find(self, store_id: str, cart_key: str) -> Cart | None: ...
    def find_for_delete(
        self, store_id: str, cart_key: str | None, cart_token: str | None
    ) -> Cart | None:
        """By its key, else the store's newest cart with that token; None given neither."""
        ...

    def upsert(self, contents: CartContents, now: datetime) -> tuple[Cart, bool]:
        """Insert the cart, or (same store and key) find the one a racing writer inserted.
        Returns the stored cart and whether this call created it. Never raises on the race."""
        ...

    def update_contents(self, cart_id: int, contents: CartContents, now: datetime) -> None:
        """Write an accepted update and count it (`update_count` + 1)."""
        ...

    def change(self, cart_id: int, **changes: Unpack[CartChanges]) -> None: ...
    def match_for_order(
        self,
        store_id: str,
        *,
        checkout_token: str | None,
        cart_token: str | None,
        customer_id: str | None,
        email: str | None,
        phone: str | None,
        since: datetime,
    ) -> Cart | None:
        """The cart an order closes: by checkout token (= cart key), then cart token (newest
        updated), then the newest live cart of the same customer, email or phone active since
        `since`."""
        ...

    def newer_live_cart_exists(self, cart: Cart) -> bool:
        """Whether the same person (email or phone) has a newer live cart in the same store."""
        ...

    def abandonments(self, cart: Cart) -> list[datetime]:
        """When the same person's other carts in the store were abandoned."""
        ...

    def stores_knowing_phone(self, phone: str) -> list[str]: ...
    def page(
        self,
        *,
        store_id: str | None,
        status: str | None,
        limit: int,
        offset: int,
        after: int | None = None,
    ) -> list[Cart]:
        """Newest updated first (ties: highest id); `after`: only those past the cart with
        that id in this order (the last of the page before: keyset paging, which costs the
        same however deep; none when that cart is gone)."""
        ...

    def search(self, query: CartSearch, *, limit: int, offset: int) -> list[Cart]:
        """Newest updated first (ties: highest id)."""
        ...

    def for_address(self, address: str, limit: int) -> list[Cart]:
        """Every store's carts with this email or phone, newest updated first."""
        ...


class Orders(Protocol):
    def find(self, store_id: str, order_key: str) -> Order | None: ...
    def add(self, order: NewOrder) -> Order: ...
    def mark_paid(self, order_id: int) -> None: ...
    def change(self, order_id: int, **changes: Unpack[OrderChanges]) -> None: ...
    def for_cart(self, cart_id: int) -> Order | None:
        """The first order placed for the cart."""
        ...

    def ordered_since(
        self, store_id: str, email: str | None, phone: str | None, since: datetime
    ) -> bool: ...
    def last_purchase(self, email: str | None, phone: str | None) -> datetime | None:
        """This person's latest order in any store."""
        ...

    def purchases(self, store_id: str, email: str | None, phone: str | None) -> list[Purchase]:
        """This person's orders in the store (email or phone) that are revenue, net of refunds."""
        ...


class Messages(Protocol):
    def get(self, message_id: str) -> Message | None: ...
    def add(self, message: Message, link: Link | None = None) -> None:
        """The message, and its short link when given (one write where the store can)."""
        ...

    def update(self, message_id: str, **changes: Unpack[MessageChanges]) -> None: ...
    def for_step(self, run_id: int, step_index: int) -> Message | None: ...
    def for_cart(self, cart_id: int) -> list[Message]:
        """Oldest first."""
        ...

    def by_provider_id(self, provider: str, provider_message_id: str) -> Message | None: ...
    def any_for_run(self, run_id: int) -> bool:
        """Whether the run has written any message (queued counts: it may be on its way)."""
        ...

    def sms_in_run(self, run_id: int) -> int:
        """SMS and RCS messages of the run that are queued or went out."""
        ...

    def last_to_recipient(self, recipient: str, *, exclude_run: int | None) -> datetime | None:
        """When this address last got a queued or sent message from any flow or store."""
        ...

    def lock_recipient(self, recipient: str) -> None: ...
    def touches(self, cart_id: int) -> list[MessageTouch]:
        """Messages that went out for the cart, each with its latest click by a person."""
        ...

    def add_attempt(self, attempt: SendAttempt, **changes: Unpack[MessageChanges]) -> None:
        """Keep the attempt and count it on its message, with the message's `changes`."""
        ...

    def attempts(self, message_id: str) -> list[SendAttempt]: ...
    def add_link(self, link: Link) -> None: ...
    def link(self, code: str) -> Link | None: ...
    def retarget_link(self, code: str, target_url: str) -> None: ...
    def add_click(self, click: Click) -> None: ...
    def clicks_for_cart(self, cart_id: int) -> list[Click]: ...
    def for_recipient(self, recipient: str) -> list[Message]: ...
    def click_counts(self, message_ids: Collection[str]) -> dict[str, int]:
        """Clicks people made per message, for the messages that have any (no bots')."""
        ...

    def page(
        self,
        *,
        store_id: str | None,
        status: str | None,
        limit: int,
        offset: int,
        after: str | None = None,
    ) -> list[Message]:
        """Newest first (ties: highest id); `after`: only those past the message with that id
        in this order (keyset paging, as `Carts.page`)."""
        ...


class ConsentBook(Protocol):
    """The consent ledger (latest entry for an address wins) and the suppression list."""

    def latest(self, store_id: str, channel: str, address: str) -> ConsentEntry | None: ...
    def add(self, entry: ConsentEntry) -> None: ...
    def add_once(self, entry: ConsentEntry) -> bool:
        """Add unless the same answer from the same source at the same time is there."""
        ...

    def history(self, address: str, store_id: str | None = None) -> list[ConsentEntry]:
        """Oldest first; every store's entries unless `store_id` is given."""
        ...

    def is_suppressed(self, channel: str, address: str) -> bool: ...
    def replied_stop(self, phone: str) -> bool: ...
    def blocked(self, channel: str, addresses: Sequence[str], stop_phones: Sequence[str]) -> bool:
        """Whether any of `addresses` is suppressed on `channel`, or any of `stop_phones` replied
        STOP: `is_suppressed` and `replied_stop` of several addresses in one look-up (a send
        asks it about the recipient and the hashes an erasure kept)."""
        ...

    def suppress(self, suppression: Suppression) -> None:
        """Idempotent: an address already suppressed on the channel stays as it was."""
        ...

    def unsuppress(self, channel: str, address: str) -> None: ...
    def suppressions(self, address: str) -> list[Suppression]: ...
    def add_reply(self, reply: Reply, action: str, now: datetime) -> bool:
        """Keep a reply once per gateway id; False when it was already kept."""
        ...


class Touches(Protocol):
    def add_many(self, touches: Iterable[Touch], now: datetime) -> int:
        """Keep touches not already kept; how many were new."""
        ...

    def last(self, address: str, channel: str | None, since: datetime) -> datetime | None: ...


class Codes(Protocol):
    """Pools of single-use discount codes (platforms where cartback cannot create codes)."""

    def import_codes(
        self, store_id: str, codes: Sequence[str], now: datetime, expires_at: datetime | None
    ) -> CodeImport: ...
    def claim(self, store_id: str, cart_id: int, now: datetime) -> str | None:
        """The cart's live code, else one unused unexpired code; None when the pool is empty."""
        ...

    def remaining(self, store_id: str, now: datetime) -> int: ...


class Cursors(Protocol):
    def get(self, name: str) -> Cursor | None: ...
    def save(self, name: str, value: str, now: datetime) -> None: ...
    def record_failure(self, name: str, now: datetime, retry_at: datetime) -> int: ...
    def clear_failures(self, name: str, now: datetime) -> None: ...


class Reports(Protocol):
    def figures(self, store_id: str, currency: str | None, since: datetime | None) -> StoreFigures:
        """Abandoned carts, messages that went out, recovered orders and skips since `since`."""
        ...

    def activity(self, store_ids: Collection[str], since: datetime | None) -> Activity:
        """Carts created, carts messaged and clicked, and the money behind the daily chart."""
        ...


class Tx(Protocol):
    """One unit of work."""

    @property
    def carts(self) -> Carts: ...
    @property
    def orders(self) -> Orders: ...
    @property
    def runs(self) -> Runs: ...
    @property
    def decisions(self) -> Decisions: ...
    @property
    def messages(self) -> Messages: ...
    @property
    def consent(self) -> ConsentBook: ...
    @property
    def deliveries(self) -> Deliveries: ...
    @property
    def touches(self) -> Touches: ...
    @property
    def lookback(self) -> Lookbacks: ...
    @property
    def codes(self) -> Codes: ...
    @property
    def cursors(self) -> Cursors: ...
    @property
    def reports(self) -> Reports: ...
    @property
    def measure(self) -> Measurements: ...
    @property
    def privacy(self) -> PrivacyRecords: ...
    @property
    def diagnostics(self) -> Diagnostics: ...
    @property
    def upkeep(self) -> Upkeep: ...
    @property
    def secrets(self) -> Secrets: ...


class LoopWriter(Protocol):
    """`Store.record_deliveries` awaited on one event loop, by one caller at a time."""

    async def record_many(self, batch: Sequence[NewDelivery]) -> list[tuple[int, bool]]:
        """The deliveries stored (committed on return): each one's id, and whether it was
        stored before."""
        ...

    def close(self) -> None:
        """Close its connection (from any thread, whether its loop still runs or not)."""
        ...


class Store(Protocol):
    @property
    def kind(self) -> str:
        """`sqlite`, `postgresql` or `memory`."""
        ...

    def transaction(self) -> AbstractContextManager[Tx]:
        """A write transaction (takes SQLite's write lock up front)."""
        ...

    def reading(self) -> AbstractContextManager[Tx]:
        """A read-only unit of work for API answers and reports; writes in it are a bug."""
        ...

    def record_deliveries(
        self, batch: Sequence[NewDelivery], inserted: Callable[[], None] | None = None
    ) -> list[tuple[int, bool]]:
        """`tx.deliveries.record_many`, committed on return; PostgreSQL writes it as one
        statement that commits itself. `inserted` is called once the rows are in (before
        SQLite's commit)."""
        ...

    def loop_writer(self) -> LoopWriter | None:
        """A writer of deliveries for the running event loop, where the database has one
        (PostgreSQL; `engine/recorder.py`); None where deliveries are written by threads."""
        ...

    def record_sent(
        self,
        attempt: SendAttempt,
        changes: MessageChanges,
        onward: Onward | None,
        now: datetime,
    ) -> None:
        """`tx.messages.add_attempt(attempt, **changes)` and the run's move (`onward`, at
        `now`), committed on return; PostgreSQL writes them as one statement that commits
        itself (store/sent.py)."""
        ...

    def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[Claim]:
        """Claim up to `limit` due pending runs in their own transaction, oldest due first.
        A claimed run's `next_run_at` moves to `now + lease`; PostgreSQL skips locked rows."""
        ...

    def ping(self) -> None:
        """Raise when the database does not answer."""
        ...

    def close(self) -> None: ...
