"""Gathering what the policy needs to know about one intended send, right before it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time

from cartback.domain.events import Channel
from cartback.domain.phone import phone_country, phone_timezones
from cartback.domain.policy import PolicyRules, SendFacts
from cartback.domain.privacy import erased_address
from cartback.domain.records import Cart, CartStatus
from cartback.domain.sending_windows import SendingWindow, subdivision_for, window_for
from cartback.store.base import Tx
from cartback.store.lookback import Ask

ALL_DAY = SendingWindow(time(0), time(0))


@dataclass(frozen=True, slots=True)
class Target:
    """Where the step goes: the channel asked for, the one that will carry it, and the store."""

    channel: Channel
    route: Channel | None
    store_timezone: str
    consent_mode: str = "strict"  # strict | soft_opt_in
    windows: Mapping[str, SendingWindow] = field(default_factory=dict)  # the store's overrides
    # The keys of erased people's hashes (see domain.privacy), the current secret's first.
    erase_keys: tuple[bytes, ...] = ()


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
    seen = tx.lookback.before_send(
        _ask(cart, run_id, kind, address, target.erase_keys, now - cooldown)
    )
    return SendFacts(
        channel=channel,
        now=now,
        purchased=cart.status == CartStatus.PURCHASED or seen.ordered_since,
        deleted=cart.status == CartStatus.DELETED,
        address=address,
        phone_raw=cart.phone_raw,
        consent=_consent(tx, cart, kind, address, target.consent_mode, seen.consent),
        suppressed=seen.blocked,
        channel_configured=target.route is not None,
        has_recovery_url=bool(cart.recovery_url),
        last_promotional_at=_latest(seen.last_ours, seen.last_theirs),
        cooldown=cooldown,
        quiet_hours=rules.quiet_hours,
        zones=zones or (target.store_timezone,),
        recent_purchase=rules.recent_purchase,
        max_sms=rules.max_sms,
        sms_deadline=rules.sms_deadline,
        store_zone=target.store_timezone,
        newer_cart=seen.newer_cart,
        last_purchase_at=seen.last_purchase,
        sms_sent=seen.sms_in_run,
        abandoned_at=cart.abandoned_at,
        window=_window(cart, target) if channel != Channel.EMAIL else None,
        phone_source=cart.phone_source,
    )


def _ask(
    cart: Cart,
    run_id: int,
    kind: str,
    address: str | None,
    keys: tuple[bytes, ...],
    touched_since: datetime,
) -> Ask:
    """What to look up before the send. Suppressions: opted out of this channel, or replied STOP
    from the cart's phone (which ends everything); also a "no" of a person since erased, kept
    as a suppression of their address's keyed hash (under any secret that still verifies)."""
    addresses = [address] if address else []
    phones = [cart.phone] if cart.phone else []
    addresses += [erased_address(key, a) for key in keys for a in addresses]
    phones += [erased_address(key, p) for key in keys for p in phones]
    return Ask(
        cart=cart,
        run_id=run_id,
        kind=kind,
        address=address or None,
        blocked_addresses=addresses,
        blocked_phones=phones,
        touched_since=touched_since,
        ordered=cart.status != CartStatus.PURCHASED,
    )


def _window(cart: Cart, target: Target) -> SendingWindow | None:
    """The legal sending window of the recipient's country (or US state), or the store's own."""
    country = (phone_country(cart.phone) if cart.phone else None) or cart.country
    state = subdivision_for(cart.phone) if cart.phone and country == "US" else None
    window = window_for(country, state, target.windows, ALL_DAY)
    return None if window == ALL_DAY else window


def _consent(
    tx: Tx, cart: Cart, kind: str, address: str | None, mode: str, latest: bool | None
) -> bool:
    """Strict: a consent on record. Soft opt-in (EU existing customers): email to past buyers."""
    if not address:
        return False
    if latest is not None:
        return latest
    return kind == "email" and mode == "soft_opt_in" and _past_buyer(tx, cart)


def _past_buyer(tx: Tx, cart: Cart) -> bool:
    if (cart.customer_orders_count or 0) > 0:
        return True
    return tx.orders.last_purchase(cart.email, None) is not None


def _latest(ours: datetime | None, theirs: datetime | None) -> datetime | None:
    """The latest promotional message to this address: ours from any flow or store (this run's
    own steps excepted), or another system's registered touch."""
    return max((t for t in (ours, theirs) if t is not None), default=None)
