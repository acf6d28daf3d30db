"""Gathering what the policy needs to know about one intended send, right before it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from cartback.domain.events import Channel
from cartback.domain.phone import phone_country, phone_timezones
from cartback.domain.policy import PolicyRules, SendFacts
from cartback.domain.privacy import erased_address
from cartback.domain.records import Cart, CartStatus
from cartback.domain.sending_windows import SendingWindow, subdivision_for, window_for
from cartback.store.base import Tx

ALL_DAY = SendingWindow(time(0), time(0))


@dataclass(frozen=True, slots=True)
class Target:
    """Where the step goes: the channel asked for, the one that will carry it, and the store."""

    channel: Channel
    route: Channel | None
    store_timezone: str
    consent_mode: str = "strict"  # strict | soft_opt_in
    windows: Mapping[str, SendingWindow] = field(default_factory=dict)  # the store's overrides
    erase_key: bytes | None = None  # the key of erased people's hashes (see domain.privacy)


def gather(
    tx: Tx, cart: Cart, run_id: int, target: Target, rules: PolicyRules, now: datetime
) -> SendFacts:
    channel = target.channel
    address = cart.email if channel == Channel.EMAIL else cart.phone
    kind = "email" if channel == Channel.EMAIL else "sms"  # rcs shares the sms consent
    if address:
        tx.messages.lock_recipient(address)  # a racing worker waits, then sees our message
    zones = phone_timezones(cart.phone) if cart.phone else ()
    cooldown = rules.cooldown_for(channel)
    return SendFacts(
        channel=channel,
        now=now,
        purchased=_bought(tx, cart),
        deleted=cart.status == CartStatus.DELETED,
        address=address,
        phone_raw=cart.phone_raw,
        consent=_consent(tx, cart, kind, address, target.consent_mode),
        suppressed=_suppressed(tx, kind, address, cart.phone, target.erase_key),
        channel_configured=target.route is not None,
        has_recovery_url=bool(cart.recovery_url),
        last_promotional_at=_last_promotion(tx, address, kind, run_id, now, cooldown),
        cooldown=cooldown,
        quiet_hours=rules.quiet_hours,
        zones=zones or (target.store_timezone,),
        recent_purchase=rules.recent_purchase,
        max_sms=rules.max_sms,
        sms_deadline=rules.sms_deadline,
        store_zone=target.store_timezone,
        newer_cart=tx.carts.newer_live_cart_exists(cart),
        last_purchase_at=tx.orders.last_purchase(cart.email, cart.phone),
        sms_sent=tx.messages.sms_in_run(run_id),
        abandoned_at=cart.abandoned_at,
        window=_window(cart, target) if channel != Channel.EMAIL else None,
        phone_source=cart.phone_source,
    )


def _window(cart: Cart, target: Target) -> SendingWindow | None:
    """The legal sending window of the recipient's country (or US state), or the store's own."""
    country = (phone_country(cart.phone) if cart.phone else None) or cart.country
    state = subdivision_for(cart.phone) if cart.phone and country == "US" else None
    window = window_for(country, state, target.windows, ALL_DAY)
    return None if window == ALL_DAY else window


def _bought(tx: Tx, cart: Cart) -> bool:
    if cart.status == CartStatus.PURCHASED:
        return True
    return tx.orders.ordered_since(cart.store_id, cart.email, cart.phone, cart.last_activity_at)


def _consent(tx: Tx, cart: Cart, kind: str, address: str | None, mode: str) -> bool:
    """Strict: a consent on record. Soft opt-in (EU existing customers): email to past buyers."""
    if not address:
        return False
    latest = tx.consent.latest(cart.store_id, kind, address)
    if latest is not None:
        return latest.granted
    return kind == "email" and mode == "soft_opt_in" and _past_buyer(tx, cart)


def _past_buyer(tx: Tx, cart: Cart) -> bool:
    if (cart.customer_orders_count or 0) > 0:
        return True
    return tx.orders.last_purchase(cart.email, None) is not None


def _suppressed(
    tx: Tx, kind: str, address: str | None, phone: str | None, key: bytes | None
) -> bool:
    """Opted out of this channel, or replied STOP from the cart's phone (which ends everything);
    also a "no" of a person since erased, kept as a suppression of their address's keyed hash.
    One look-up for all of them: it runs before every send."""
    addresses = [address] if address else []
    phones = [phone] if phone else []
    if key is not None:
        addresses += [erased_address(key, a) for a in addresses]
        phones += [erased_address(key, p) for p in phones]
    return bool(addresses or phones) and tx.consent.blocked(kind, addresses, phones)


def _last_promotion(
    tx: Tx, address: str | None, kind: str, run_id: int, now: datetime, window: timedelta
) -> datetime | None:
    """The latest promotional message to this address: ours from any flow or store (this run's
    own steps excepted), or another system's registered touch."""
    if not address:
        return None
    ours = tx.messages.last_to_recipient(address, exclude_run=run_id)
    theirs = tx.touches.last(address, kind, now - window)
    return max((t for t in (ours, theirs) if t is not None), default=None)
