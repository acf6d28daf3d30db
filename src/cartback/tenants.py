"""An agency's shops in one cartback: which gateways and settings each store sends with.

A store without `channels:` of its own sends through the global gateways. One with them gets
the gateway of the global channel when only what a message carries differs (an SMS sender, a
cost per segment, retries): one connection, one breaker, replies fetched once. A store whose
channel differs in anything the gateway is built from (another provider, account, Twilio
number, SMTP host or `from`) gets a gateway of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel

from cartback.channels.base import Gateway
from cartback.config import Settings
from cartback.config.channels import ChannelsConfig, TwilioSms
from cartback.domain.events import Channel

if TYPE_CHECKING:
    from cartback.gateways import Gateways

# Keys that travel with each message or its accounting, not with the gateway's connection.
_PER_MESSAGE = {"sender", "cost_per_segment", "max_attempts", "retry_backoff", "transliterate"}
_SMS = (Channel.SMS, Channel.RCS)


def store_gateways(
    settings: Settings, shared: Gateways, make: Callable[[ChannelsConfig], Gateways]
) -> dict[str, dict[Channel, Gateway]]:
    """Per store with channels of its own, its gateways by channel. `make(channels)` builds a
    channels config's own gateways; their reply sources and Twilio accounts join `shared`'s,
    so replies are fetched and callbacks verified for every account."""
    found: dict[str, dict[Channel, Gateway]] = {}
    for store in settings.stores:
        if store.channels is None:
            continue
        channels = settings.channels_of(store.id)
        mine: dict[Channel, Gateway] = {}
        sms, email = channels.sms, channels.email
        if sms is not None and _same_connection(sms, settings.channels.sms):
            mine.update({c: shared.by_channel[c] for c in _SMS if c in shared.by_channel})
        elif sms is not None:
            made = _joined(shared, make(ChannelsConfig(sms=sms)))
            mine.update({c: made.by_channel[c] for c in _SMS if c in made.by_channel})
        if email is not None and _same_connection(email, settings.channels.email):
            if Channel.EMAIL in shared.by_channel:
                mine[Channel.EMAIL] = shared.by_channel[Channel.EMAIL]
        elif email is not None:
            mine[Channel.EMAIL] = make(ChannelsConfig(email=email)).by_channel[Channel.EMAIL]
        found[store.id] = mine
    return found


def _joined(shared: Gateways, made: Gateways) -> Gateways:
    shared.inbound += made.inbound
    shared.twilio_accounts += made.twilio_accounts
    shared.inmobile = shared.inmobile or made.inmobile
    return made


def _same_connection(mine: BaseModel, shared: BaseModel | None) -> bool:
    if shared is None or type(mine) is not type(shared):
        return False
    left_out = set(_PER_MESSAGE)
    if isinstance(mine, TwilioSms):
        left_out.discard("sender")  # Twilio sends from the gateway's own number
    return mine.model_dump(exclude=left_out) == shared.model_dump(exclude=left_out)
