"""What people did with a message: its short link, the clicks on it, the email opens, and the
touches attribution weighs. A click or open a machine made keeps the reason (see `bots.py`)
and counts for nothing: not for attribution, not in the report's clicks, not in a condition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Link:
    code: str
    message_id: str
    cart_id: int
    target_url: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Click:
    code: str
    message_id: str
    cart_id: int
    at: datetime
    user_agent: str | None = None
    id: int = 0
    bot_reason: str | None = None  # why a machine made it (see domain/bots.py); None: a person
    agent_class: str | None = None  # browser | preview | crawler | scanner | machine

    @property
    def bot(self) -> bool:
        return self.bot_reason is not None


@dataclass(frozen=True, slots=True)
class Open:
    """An email's tracking pixel fetched: by a person's mail client, or by a machine."""

    message_id: str
    cart_id: int
    at: datetime
    user_agent: str | None = None
    bot_reason: str | None = None
    id: int = 0

    @property
    def bot(self) -> bool:
        return self.bot_reason is not None


@dataclass(frozen=True, slots=True)
class MessageTouch:
    """A message that went out for a cart, with its latest click: what attribution weighs."""

    message_id: str
    sent_at: datetime
    clicked_at: datetime | None = None
