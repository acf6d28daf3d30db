"""Messages, their send attempts, short links and clicks, in memory."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from typing import Any, Unpack

from cartback.domain.records import (
    MESSAGE_OUT,
    Click,
    Link,
    Message,
    MessageStatus,
    MessageTouch,
    SendAttempt,
)
from cartback.store.base import MessageChanges
from cartback.testing._data import Data
from cartback.testing._tables import (
    StoreConflict,
    all_utc,
    past,
    require,
    updated,
    utc,
    utc_or_none,
)

_ON_ITS_WAY = frozenset({MessageStatus.QUEUED, *MESSAGE_OUT})
_TEXTING = frozenset({"sms", "rcs"})
_MAX_USER_AGENT = 300


class MemoryMessages:
    def __init__(self, data: Data) -> None:
        self.data = data
        self.table = data.messages

    def get(self, message_id: str) -> Message | None:
        return self.table.get(message_id)

    def add(self, message: Message, link: Link | None = None) -> None:
        self._add(message)
        if link is not None:
            self.add_link(link)

    def _add(self, message: Message) -> None:
        require(self.data.carts, message.cart_id, "cart")
        require(self.data.runs, message.run_id, "run")
        if not (
            type(message.status) is MessageStatus
            and type(message.channel) is str
            and all_utc(message.created_at, message.sent_at, message.status_at)
        ):
            message = updated(
                message,
                status=MessageStatus(message.status),
                channel=str(message.channel),  # plain text, as the database gives it back
                created_at=utc(message.created_at),
                sent_at=utc_or_none(message.sent_at),
                status_at=utc_or_none(message.status_at),
            )
        self.table.insert(message.id, message)

    def update(self, message_id: str, **changes: Unpack[MessageChanges]) -> None:
        message = self.table.get(message_id)
        if message is None:
            return
        values: dict[str, Any] = dict(changes)
        for name in ("sent_at", "status_at"):
            if name in values:
                values[name] = utc_or_none(values[name])
        if "status" in values:
            values["status"] = MessageStatus(values["status"])
        self.table.replace(message_id, updated(message, **values))

    def for_step(self, run_id: int, step_index: int) -> Message | None:
        message_id = self.data.message_by_step.get((run_id, step_index))
        return None if message_id is None else self.table.get(message_id)

    def for_cart(self, cart_id: int) -> list[Message]:
        return _oldest_first(self._each(self.data.messages_by_cart.get(cart_id)))

    def by_provider_id(self, provider: str, provider_message_id: str) -> Message | None:
        ids = self.data.messages_by_provider_id.get((provider, provider_message_id))
        return next(self._each(ids), None)

    def any_for_run(self, run_id: int) -> bool:
        return bool(self.data.messages_by_run.get(run_id))

    def sms_in_run(self, run_id: int) -> int:
        return sum(
            1
            for m in self._each(self.data.messages_by_run.get(run_id))
            if m.channel in _TEXTING and m.status in _ON_ITS_WAY
        )

    def last_to_recipient(self, recipient: str, *, exclude_run: int | None) -> datetime | None:
        return max(
            (
                m.created_at
                for m in self._each(self.data.messages_by_recipient.get(recipient))
                if m.status in _ON_ITS_WAY and (exclude_run is None or m.run_id != exclude_run)
            ),
            default=None,
        )

    def lock_recipient(self, recipient: str) -> None:
        """Nothing to do: a unit of work holds the store's one lock until it ends."""

    def touches(self, cart_id: int) -> list[MessageTouch]:
        last_click: dict[str, datetime] = {}
        for click in self.clicks_for_cart(cart_id):
            if click.bot:
                continue
            last_click[click.message_id] = max(click.at, last_click.get(click.message_id, click.at))
        return [
            MessageTouch(m.id, m.sent_at, last_click.get(m.id))
            for m in self.for_cart(cart_id)
            if m.status in MESSAGE_OUT and m.sent_at is not None
        ]

    def add_attempt(self, attempt: SendAttempt, **changes: Unpack[MessageChanges]) -> None:
        message = self.table.get(attempt.message_id)
        if message is None:
            raise StoreConflict(f"attempt for message {attempt.message_id}, which does not exist")
        key = (attempt.message_id, attempt.number)
        if key in self.data.attempts:
            raise StoreConflict(f"attempt {attempt.number} of {attempt.message_id} exists")
        if not all_utc(attempt.started_at):
            attempt = updated(attempt, started_at=utc(attempt.started_at))
        self.data.attempts.insert(key, attempt)
        self.table.replace(message.id, updated(message, attempts=message.attempts + 1))
        if changes:
            self.update(message.id, **changes)

    def attempts(self, message_id: str) -> list[SendAttempt]:
        rows = self.data.attempts.rows
        found = [rows[key] for key in self.data.attempts_by_message.get(message_id)]
        return sorted(found, key=lambda attempt: attempt.number)

    def add_link(self, link: Link) -> None:
        require(self.table, link.message_id, "message")
        require(self.data.carts, link.cart_id, "cart")
        if not all_utc(link.created_at):
            link = updated(link, created_at=utc(link.created_at))
        self.data.links.insert(link.code, link)

    def link(self, code: str) -> Link | None:
        return self.data.links.get(code)

    def retarget_link(self, code: str, target_url: str) -> None:
        link = self.data.links.get(code)
        if link is not None:
            self.data.links.replace(code, updated(link, target_url=target_url))

    def add_click(self, click: Click) -> None:
        require(self.data.links, click.code, "link")
        click_id = self.data.click_ids.next()
        agent = (click.user_agent or "")[:_MAX_USER_AGENT] or None
        stored = updated(click, id=click_id, at=utc(click.at), user_agent=agent)
        self.data.clicks.insert(click_id, stored)

    def clicks_for_cart(self, cart_id: int) -> list[Click]:
        rows = self.data.clicks.rows
        found = [rows[i] for i in self.data.clicks_by_cart.get(cart_id)]
        return sorted(found, key=lambda click: (click.at, click.id))

    def for_recipient(self, recipient: str) -> list[Message]:
        return _oldest_first(self._each(self.data.messages_by_recipient.get(recipient)))

    def click_counts(self, message_ids: Collection[str]) -> dict[str, int]:
        wanted = set(message_ids)
        counts: dict[str, int] = {}
        for click in self.data.clicks.values():
            if click.message_id in wanted and not click.bot:
                counts[click.message_id] = counts.get(click.message_id, 0) + 1
        return counts

    def page(
        self,
        *,
        store_id: str | None,
        status: str | None,
        limit: int,
        offset: int,
        after: str | None = None,
    ) -> list[Message]:
        chosen = [
            m
            for m in self.table.values()
            if (not store_id or m.store_id == store_id) and (not status or m.status == status)
        ]
        return past(chosen, lambda m: (m.created_at, m.id), after, self.get)[
            offset : offset + limit
        ]

    def _each(self, ids: Iterable[str]) -> Iterator[Message]:
        rows = self.table.rows
        return (rows[message_id] for message_id in ids)


def _oldest_first(messages: Iterable[Message]) -> list[Message]:
    return sorted(messages, key=lambda m: m.created_at)
