"""What the sender works with: a store's details and settings, and a message prepared in the
deciding transaction, to send once it is committed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cartback.channels.base import OutgoingMessage
from cartback.domain.flow import SendStep
from cartback.domain.policy import PolicyRules
from cartback.domain.records import Cart
from cartback.domain.sending_windows import SendingWindow
from cartback.engine.discounting import ShopAccess
from cartback.engine.dispatch import Outgoing


@dataclass(frozen=True, slots=True)
class StoreInfo:
    id: str
    name: str
    timezone: str
    currency: str | None
    consent_mode: str = "strict"
    shop: ShopAccess = field(default_factory=lambda: ShopAccess("generic", None, None))
    windows: Mapping[str, SendingWindow] = field(default_factory=dict)
    locale: str | None = None  # the shop's language, for a cart without one


@dataclass(frozen=True, slots=True)
class SenderSettings:
    public_url: str
    policy: PolicyRules
    # Finds the keys under whose hashes erased people's "no" is kept (see engine.privacy):
    # the current signing secret's first, then the previous secrets'.
    erase_keys: Callable[[], tuple[bytes, ...]] | None = None


@dataclass(frozen=True, slots=True)
class PendingCode:
    """A Shopify code chosen and recorded, to create before the message goes out."""

    code: str
    retry: bool  # an earlier try may have created it already
    cart: Cart
    step: SendStep
    chosen_at: datetime
    plain: OutgoingMessage  # the message without the discount, should the code fail
    link_code: str


@dataclass(frozen=True, slots=True)
class Prepared:
    out: Outgoing
    code: PendingCode | None = None
