"""An agency's shops in one cartback: which gateways and settings each store sends with.

A store without `channels:` of its own sends through the global gateways. One with them gets
the gateway of the global channel when only what a message carries differs (an SMS sender, a
cost per segment, retries): one connection, one breaker, replies fetched once. A store whose
channel differs in anything the gateway is built from (another provider, account, Twilio
number, SMTP host or `from`) gets a gateway of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel

from cartback.channels.base import Gateway, InboundSource
from cartback.config import Settings
from cartback.config.channels import ChannelsConfig, TwilioSms
from cartback.domain.events import Channel

# Keys that travel with each message or its accounting, not with the gateway's connection.
_PER_MESSAGE = {"sender", "cost_per_segment", "max_attempts", "retry_backoff", "transliterate"}
_SMS = (Channel.SMS, Channel.RCS)


@dataclass
class StoreGateways:
    """Per store (only those with channels of their own): its gateways by channel, and the
    sources of replies that the stores' own accounts add."""

    by_store: dict[str, dict[Channel, Gateway]] = field(default_factory=dict)
    inbound: list[InboundSource] = field(default_factory=list)


def store_gateways(
    settings: Settings,
    shared: dict[Channel, Gateway],
    make: Callable[[ChannelsConfig], tuple[dict[Channel, Gateway], list[InboundSource]]],
) -> StoreGateways:
    """`make(channels)`: the gateways (and reply sources) of a channels config of its own."""
    found = StoreGateways()
    for store in settings.stores:
        if store.channels is None:
            continue
        channels = settings.channels_of(store.id)
        mine: dict[Channel, Gateway] = {}
        sms, email = channels.sms, channels.email
        if sms is not None and _same_connection(sms, settings.channels.sms):
            mine.update({c: shared[c] for c in _SMS if c in shared})
        elif sms is not None:
            built, inbound = make(ChannelsConfig(sms=sms))
            mine.update({c: built[c] for c in _SMS if c in built})
            found.inbound += inbound
        if email is not None and _same_connection(email, settings.channels.email):
            mine.update({c: shared[c] for c in (Channel.EMAIL,) if c in shared})
        elif email is not None:
            built, _inbound = make(ChannelsConfig(email=email))
            mine[Channel.EMAIL] = built[Channel.EMAIL]
        found.by_store[store.id] = mine
    return found


def _same_connection(mine: BaseModel, shared: BaseModel | None) -> bool:
    if shared is None or type(mine) is not type(shared):
        return False
    left_out = set(_PER_MESSAGE)
    if isinstance(mine, TwilioSms):
        left_out.discard("sender")  # Twilio sends from the gateway's own number
    return mine.model_dump(exclude=left_out) == shared.model_dump(exclude=left_out)
