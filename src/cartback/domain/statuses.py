"""The states of what the store keeps, and the words of a cart's timeline, as enums."""

from __future__ import annotations

from enum import StrEnum


class CartStatus(StrEnum):
    OPEN = "open"
    ABANDONED = "abandoned"
    PURCHASED = "purchased"
    DELETED = "deleted"


LIVE_CART = frozenset({CartStatus.OPEN, CartStatus.ABANDONED})


class RunStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"


WAITING_FOR_ABANDONMENT = -1  # a run's step index before its cart is abandoned


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNDELIVERED = "undelivered"
    SKIPPED = "skipped"


MESSAGE_OUT = frozenset({MessageStatus.SENT, MessageStatus.DELIVERED})  # reached the gateway


class DecisionAction(StrEnum):
    """What a line of a cart's timeline says was done (the policy's four, and the engine's)."""

    SEND = "send"
    SKIP = "skip"
    DEFER = "defer"
    CANCEL = "cancel"
    ABANDON = "abandon"
    FALLBACK = "fallback"  # rcs went as sms
    BRANCH = "branch"  # a segment chose the wording
    DISCOUNT = "discount"
    END = "end"  # an end step
    ORDER = "order"  # the cart's order changed: cancelled, refunded, voided
    HOLDOUT = "holdout"  # a held-out cart: no message where one would have gone out
    ENRICH = "enrich"  # the shop's admin API told what the webhook did not


NOT_SENT = frozenset({DecisionAction.SKIP, DecisionAction.CANCEL})  # counted by reason


class DeliveryStatus(StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    FAILED = "failed"
