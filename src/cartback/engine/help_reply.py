"""Answering HELP: who is writing, how to reach the shop, how to opt out (carriers expect it).

A HELP or INFO reply reached us, so the number that got our message can take replies; the
answer goes back through the same SMS gateway from the number it was sent to, after the reply
is recorded (no transaction is open while the gateway is called). The shop is one that has a
cart with this number (the first by id when several do), else the only one configured.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from cartback.channels.base import Gateway, InboundMessage, OutgoingMessage, SendResult
from cartback.config import Settings
from cartback.domain.events import Channel
from cartback.domain.keywords import help_reply
from cartback.domain.opt_out import opt_out_text
from cartback.domain.phone import phone_country
from cartback.domain.redact import mask_phone
from cartback.store.base import Store

log = logging.getLogger("cartback.feedback")
DEFAULT_OPT_OUT = "Reply STOP to opt out."


@dataclass(frozen=True, slots=True)
class ShopContact:
    """A shop as its answer names it, and the SMS gateway (its own or the shared) that sends."""

    name: str
    gateway: Gateway
    sender: str | None = None
    support_email: str | None = None
    support_phone: str | None = None
    locale: str | None = None


class HelpResponder:
    def __init__(
        self, store: Store, shops: Mapping[str, ShopContact], opt_out: Mapping[str, str]
    ) -> None:
        self.store = store
        self.shops = dict(shops)
        self.opt_out = dict(opt_out)

    def answer(self, message: InboundMessage) -> SendResult | None:
        """Send the answer; None when no shop can be named for this number."""
        shop = self._shop_for(message.sender)
        if shop is None:
            return None
        country = phone_country(message.sender)
        text = help_reply(
            shop.name,
            support_email=shop.support_email,
            support_phone=shop.support_phone,
            opt_out=opt_out_text(country, self.opt_out) or DEFAULT_OPT_OUT,
            language=shop.locale or "en",
        )
        sender = message.recipient or shop.sender
        out = OutgoingMessage(
            secrets.token_hex(16), Channel.SMS, message.sender, sender, text, country=country
        )
        result = shop.gateway.send(out)
        log.info(
            "help answered: %s",
            result.status,
            extra={"to": mask_phone(message.sender), "gateway": shop.gateway.name},
        )
        return result

    def _shop_for(self, phone: str) -> ShopContact | None:
        with self.store.reading() as tx:
            known = tx.carts.stores_knowing_phone(phone)
        for store_id in known:
            if store_id in self.shops:
                return self.shops[store_id]
        return next(iter(self.shops.values())) if len(self.shops) == 1 else None


def help_responder(
    settings: Settings,
    store: Store,
    shared: Mapping[Channel, Gateway],
    per_store: Mapping[str, Mapping[Channel, Gateway]],
) -> HelpResponder | None:
    """HELP is answered through each store's SMS gateway (its own, else the shared one); None
    when no store sends SMS."""
    shops: dict[str, ShopContact] = {}
    for shop in settings.stores:
        gateway = per_store.get(shop.id, shared).get(Channel.SMS)
        sms = settings.channels_of(shop.id).sms
        if gateway is not None and sms is not None:
            shops[shop.id] = ShopContact(
                shop.name, gateway, sms.sender, shop.support_email, shop.support_phone, shop.locale
            )
    return HelpResponder(store, shops, settings.policy.opt_out_texts()) if shops else None
