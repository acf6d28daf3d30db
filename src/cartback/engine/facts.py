"""Gathering what the policy needs to know about one intended send, right before it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import Connection

from cartback.domain.events import Channel
from cartback.domain.phone import phone_country, phone_timezones
from cartback.domain.policy import SendFacts
from cartback.domain.quiet_hours import QuietHours
from cartback.domain.sending_windows import SendingWindow, subdivision_for, window_for
from cartback.store import carts, consent, messages, touches
from cartback.store.types import AnyRow

ALL_DAY = SendingWindow(time(0), time(0))


@dataclass(frozen=True, slots=True)
class PolicySettings:
    cooldown: timedelta = timedelta(hours=72)
    cooldowns: dict[Channel, timedelta] = field(default_factory=dict)
    quiet_hours: QuietHours | None = None
    recent_purchase: timedelta = timedelta(hours=24)
    max_sms: int = 1
    sms_deadline: timedelta | None = timedelta(hours=48)

    def cooldown_for(self, channel: Channel) -> timedelta:
        return self.cooldowns.get(Channel.SMS if channel == Channel.RCS else channel, self.cooldown)


@dataclass(frozen=True, slots=True)
class Target:
    """Where the step goes: the channel asked for, the one that will carry it, and the store."""

    channel: Channel
    route: Channel | None
    store_timezone: str
    consent_mode: str = "strict"  # strict | soft_opt_in
    windows: Mapping[str, SendingWindow] = field(default_factory=dict)  # the store's overrides


def gather(
    conn: Connection,
    cart: AnyRow,
    run_id: int,
    target: Target,
    policy: PolicySettings,
    now: datetime,
) -> SendFacts:
    channel = target.channel
    address = cart.email if channel == Channel.EMAIL else cart.phone
    kind = "email" if channel == Channel.EMAIL else "sms"  # rcs shares the sms consent
    if address:
        messages.lock_recipient(conn, address)  # a racing worker waits, then sees our message
    zones = phone_timezones(cart.phone) if cart.phone else ()
    cooldown = policy.cooldown_for(channel)
    return SendFacts(
        channel=channel,
        now=now,
        purchased=_bought(conn, cart),
        deleted=cart.status == carts.DELETED,
        address=address,
        phone_raw=cart.phone_raw,
        consent=_consent(conn, cart, kind, address, target.consent_mode),
        suppressed=_suppressed(conn, kind, address, cart.phone),
        channel_configured=target.route is not None,
        has_recovery_url=bool(cart.recovery_url),
        last_promotional_at=_last_promotion(conn, address, kind, run_id, now, cooldown),
        cooldown=cooldown,
        quiet_hours=policy.quiet_hours,
        zones=zones or (target.store_timezone,),
        store_zone=target.store_timezone,
        newer_cart=carts.newer_live_cart(conn, cart),
        last_purchase_at=carts.last_purchase(conn, cart.email, cart.phone),
        recent_purchase=policy.recent_purchase,
        sms_sent=messages.sms_sent_in_run(conn, run_id),
        max_sms=policy.max_sms,
        abandoned_at=cart.abandoned_at,
        sms_deadline=policy.sms_deadline,
        window=_window(cart, channel, target) if channel != Channel.EMAIL else None,
    )


def _window(cart: AnyRow, channel: Channel, target: Target) -> SendingWindow | None:
    """The legal sending window of the recipient's country (or US state), or the store's own."""
    country = (phone_country(cart.phone) if cart.phone else None) or cart.country
    state = subdivision_for(cart.phone) if cart.phone and country == "US" else None
    window = window_for(country, state, target.windows, ALL_DAY)
    return None if window == ALL_DAY else window


def _bought(conn: Connection, cart: AnyRow) -> bool:
    if cart.status == carts.PURCHASED:
        return True
    return carts.ordered_since(conn, cart.store_id, cart.email, cart.phone, cart.last_activity_at)


def _consent(conn: Connection, cart: AnyRow, kind: str, address: str | None, mode: str) -> bool:
    """Strict: a consent on record. Soft opt-in (EU existing customers): email to past buyers."""
    if not address:
        return False
    latest = consent.latest(conn, cart.store_id, kind, address)
    if latest is not None:
        return bool(latest.granted)
    return kind == "email" and mode == "soft_opt_in" and _past_buyer(conn, cart)


def _past_buyer(conn: Connection, cart: AnyRow) -> bool:
    if (cart.customer_orders_count or 0) > 0:
        return True
    return carts.last_purchase(conn, cart.email, None) is not None


def _suppressed(conn: Connection, kind: str, address: str | None, phone: str | None) -> bool:
    """Opted out of this channel, or replied STOP from the cart's phone (which ends everything)."""
    if address and consent.is_suppressed(conn, kind, address):
        return True
    return phone is not None and consent.replied_stop(conn, phone)


def _last_promotion(
    conn: Connection, address: str | None, kind: str, run_id: int, now: datetime, window: timedelta
) -> datetime | None:
    """The latest promotional message to this address: ours from any flow or store (this run's
    own steps excepted), or another system's registered touch."""
    if not address:
        return None
    ours = messages.last_to_recipient(conn, address, exclude_run=run_id)
    theirs = touches.last_touch(conn, address, kind, now - window)
    return max((t for t in (ours, theirs) if t is not None), default=None)
