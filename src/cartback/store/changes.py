"""What a repository's `change`/`update` may set, and the error of a broken store rule."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TypedDict

from cartback.domain.orders import OrderStatus
from cartback.domain.records import CartStatus, MessageStatus


class StoreConflict(Exception):
    """A write broke a rule of the store (a key already taken, a reference to nothing); the
    transaction is rolled back. Racing writers the protocol allows for never see it."""


class CartChanges(TypedDict, total=False):
    status: CartStatus
    abandoned_at: datetime | None
    purchased_at: datetime | None
    deleted_at: datetime | None
    updated_at: datetime


class OrderChanges(TypedDict, total=False):  # an order's later status, test flag, refunds
    status: OrderStatus
    test: bool
    paid: bool
    refunds: Mapping[str, Decimal]  # every refund of the order by its key (replaces the old)


class MessageChanges(TypedDict, total=False):
    status: MessageStatus
    provider_message_id: str | None
    provider_segments: int | None
    channel_used: str | None
    cost: Decimal
    error_code: str | None
    error: str | None
    sent_at: datetime | None
    status_at: datetime | None
    body: str
    segments: int
    encoding: str | None
    discount_code: str | None
    discount_pending: bool
