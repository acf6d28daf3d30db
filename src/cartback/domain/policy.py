"""The checks made right before every send. Pure: the caller gathers the facts, this decides.

A step is sent, skipped (with a reason a person can read), or deferred to a later instant
(quiet hours). Reasons are stable machine-readable codes; `detail` is the sentence shown to people.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cartback.domain.durations import rounded
from cartback.domain.events import Channel
from cartback.domain.phone import is_phone_text
from cartback.domain.quiet_hours import QuietHours, next_allowed
from cartback.domain.redact import mask_phone_text
from cartback.domain.sending_windows import SendingWindow, next_allowed_in


class Action(StrEnum):
    SEND = "send"
    SKIP = "skip"
    DEFER = "defer"
    CANCEL = "cancel"  # the whole recovery stops (bought, deleted)


class Reason(StrEnum):
    OK = "ok"
    PURCHASED = "purchased"
    DELETED = "deleted"
    NO_CONTACT = "no_contact"
    NO_PHONE = "no_phone"
    INVALID_PHONE = "invalid_phone"
    NO_EMAIL = "no_email"
    NO_CONSENT = "no_consent"
    SUPPRESSED = "suppressed"
    QUIET_HOURS = "quiet_hours"
    COOLDOWN = "cooldown"
    CHANNEL_NOT_CONFIGURED = "channel_not_configured"
    NO_RECOVERY_URL = "no_recovery_url"
    UNSAFE_LINK = "unsafe_link"  # a recovery URL that is not a public http(s) page
    FLOW_REMOVED = "flow_removed"
    NEWER_CART = "newer_cart"
    RECENT_PURCHASE = "recent_purchase"
    FREQUENCY = "frequency"
    SMS_DEADLINE = "sms_deadline"
    NO_MATCHING_FLOW = "no_matching_flow"
    CONDITION = "condition"
    FLOW_ENDED = "flow_ended"
    RCS_FALLBACK = "rcs_fallback"
    GATEWAY_RETRY = "gateway_retry"
    GATEWAY_FAILED = "gateway_failed"
    GATEWAY_COOLDOWN = "gateway_cooldown"  # the gateway held a message back by its own rule
    ABANDONED = "abandoned"
    HOLDOUT = "holdout"  # the policy allowed it; the cart is held out


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: Reason
    detail: str
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class PolicyRules:
    """The send policy as configured; its defaults live in the config model only."""

    cooldown: timedelta
    cooldowns: Mapping[Channel, timedelta]  # per channel, over `cooldown`
    quiet_hours: QuietHours | None
    recent_purchase: timedelta
    max_sms: int  # SMS (or RCS) per abandonment
    sms_deadline: timedelta | None  # no SMS later than this after abandonment

    def cooldown_for(self, channel: Channel) -> timedelta:
        return self.cooldowns.get(Channel.SMS if channel == Channel.RCS else channel, self.cooldown)


@dataclass(frozen=True, slots=True)
class SendFacts:
    """Everything the policy needs to know about one intended send, read just before it."""

    channel: Channel
    now: datetime
    purchased: bool
    deleted: bool
    address: str | None  # E.164 phone for sms/rcs, email for email
    phone_raw: str | None
    consent: bool
    suppressed: bool
    channel_configured: bool
    has_recovery_url: bool
    last_promotional_at: datetime | None  # other messages to this address, any flow or store
    cooldown: timedelta
    quiet_hours: QuietHours | None
    zones: Sequence[str]  # the recipient's zones; the store's when the number tells none
    recent_purchase: timedelta
    max_sms: int
    sms_deadline: timedelta | None
    store_zone: str = "UTC"
    newer_cart: bool = False  # the same person has a newer open cart: that one gets the reminder
    last_purchase_at: datetime | None = None  # any order by this person, any store
    sms_sent: int = 0  # SMS (or RCS) already sent in this abandonment
    abandoned_at: datetime | None = None
    window: SendingWindow | None = None  # the legal sending window for the recipient's country
    phone_source: str | None = None  # the field phone_raw came from (billing_address.phone)


def _lifecycle(facts: SendFacts) -> Decision | None:
    if facts.purchased:
        return Decision(
            Action.CANCEL, Reason.PURCHASED, "The customer has bought; nothing more is sent."
        )
    if facts.deleted:
        return Decision(Action.CANCEL, Reason.DELETED, "The shop deleted the cart.")
    if facts.newer_cart:
        detail = "The same person has a newer open cart; the reminder goes to that one."
        return Decision(Action.CANCEL, Reason.NEWER_CART, detail)
    return None


def _configured(facts: SendFacts) -> Decision | None:
    if facts.channel_configured:
        return None
    detail = f"No {facts.channel} channel is configured, so this step was skipped."
    return Decision(Action.SKIP, Reason.CHANNEL_NOT_CONFIGURED, detail)


def _address(facts: SendFacts) -> Decision | None:
    if facts.address:
        return None
    if facts.channel == Channel.EMAIL:
        return Decision(Action.SKIP, Reason.NO_EMAIL, "The cart has no email address.")
    if is_phone_text(facts.phone_raw):
        where = f" (from {facts.phone_source})" if facts.phone_source else ""
        shown = mask_phone_text(facts.phone_raw)
        detail = f"The phone number {shown}{where} is not a valid number, so no SMS was sent."
        return Decision(Action.SKIP, Reason.INVALID_PHONE, detail)
    return Decision(Action.SKIP, Reason.NO_PHONE, "The cart has no phone number for SMS.")


def _consent(facts: SendFacts) -> Decision | None:
    if facts.suppressed:
        detail = f"The recipient opted out of {facts.channel}; the address is suppressed."
        return Decision(Action.SKIP, Reason.SUPPRESSED, detail)
    if not facts.consent:
        detail = f"No marketing consent for {facts.channel} is on record for this recipient."
        return Decision(Action.SKIP, Reason.NO_CONSENT, detail)
    return None


def _link(facts: SendFacts) -> Decision | None:
    if facts.has_recovery_url:
        return None
    detail = "The platform gave no link back to the basket, so there is nothing to send."
    return Decision(Action.SKIP, Reason.NO_RECOVERY_URL, detail)


def _recent_purchase(facts: SendFacts) -> Decision | None:
    bought = facts.last_purchase_at
    if bought is None or facts.now - bought >= facts.recent_purchase:
        return None
    detail = (
        f"This person bought something at {bought:%Y-%m-%d %H:%M} UTC, within "
        f"{rounded(facts.recent_purchase)}; no reminder now."
    )
    return Decision(Action.SKIP, Reason.RECENT_PURCHASE, detail)


def _frequency(facts: SendFacts) -> Decision | None:
    if facts.channel == Channel.EMAIL:
        return None
    if facts.sms_sent >= facts.max_sms:
        detail = (
            f"{facts.sms_sent} SMS already went out for this abandonment (at most {facts.max_sms})."
        )
        return Decision(Action.SKIP, Reason.FREQUENCY, detail)
    deadline, abandoned = facts.sms_deadline, facts.abandoned_at
    if deadline is not None and abandoned is not None and facts.now - abandoned > deadline:
        detail = f"More than {rounded(deadline)} have passed since the cart was abandoned; no SMS."
        return Decision(Action.SKIP, Reason.SMS_DEADLINE, detail)
    return None


def _cooldown(facts: SendFacts) -> Decision | None:
    last = facts.last_promotional_at
    if last is None or facts.now - last >= facts.cooldown:
        return None
    detail = (
        f"Another promotional message reached this recipient at {last:%Y-%m-%d %H:%M} UTC, "
        f"inside the {rounded(facts.cooldown)} cooldown."
    )
    return Decision(Action.SKIP, Reason.COOLDOWN, detail)


def _quiet(facts: SendFacts) -> Decision | None:
    if facts.quiet_hours is None and facts.window is None:
        return None
    zones = tuple(facts.zones)
    try:
        allowed = _allowed_from(facts.now, zones, facts)
    except ValueError:
        # A number spanning zones too far apart to share an allowed minute: use the store's.
        zones = (facts.store_zone,)
        allowed = _allowed_from(facts.now, zones, facts)
    if allowed == facts.now:
        return None
    deadline, abandoned = facts.sms_deadline, facts.abandoned_at
    if (
        deadline is not None
        and abandoned is not None
        and allowed - abandoned > deadline
        and facts.channel != Channel.EMAIL
    ):
        detail = (
            f"The next allowed time ({allowed:%Y-%m-%d %H:%M} UTC) is more than "
            f"{rounded(deadline)} after the cart was abandoned; no SMS."
        )
        return Decision(Action.SKIP, Reason.SMS_DEADLINE, detail)
    rules = (
        "quiet hours"
        if facts.window is None
        else f"quiet hours or the sending window ({facts.window})"
    )
    detail = (
        f"Outside the allowed time in the recipient's zone ({', '.join(zones)}): {rules}; "
        f"moved to {allowed:%Y-%m-%d %H:%M} UTC."
    )
    return Decision(Action.DEFER, Reason.QUIET_HOURS, detail, until=allowed)


def _allowed_from(instant: datetime, zones: Sequence[str], facts: SendFacts) -> datetime:
    """The first minute both the quiet hours and the sending window allow (each may move it)."""
    moment = instant
    for _ in range(16):
        later = moment
        if facts.quiet_hours is not None:
            later = next_allowed(later, zones, facts.quiet_hours)
        if facts.window is not None:
            later = next_allowed_in(later, zones, facts.window)
        if later == moment:
            return moment
        moment = later
    raise ValueError("no minute satisfies both the quiet hours and the sending window")


Check = Callable[[SendFacts], Decision | None]
CHECKS: tuple[Check, ...] = (
    _lifecycle,
    _configured,
    _address,
    _consent,
    _link,
    _recent_purchase,
    _frequency,
    _cooldown,
    _quiet,
)
# A message the gateway asked to retry goes out later than it was decided: what may have changed
# since (a purchase, a newer cart, a STOP or withdrawn consent, the night) is checked again.
RESEND_CHECKS: tuple[Check, ...] = (_lifecycle, _consent, _quiet)


def decide(facts: SendFacts, checks: Sequence[Check] = CHECKS) -> Decision:
    """The first check that objects decides; else the step is sent. (`checks`: a simulation
    leaves one out on purpose, to see its invariant checker catch what follows.)"""
    for check in checks:
        decision = check(facts)
        if decision is not None:
            return decision
    return Decision(Action.SEND, Reason.OK, f"sent by {facts.channel}")
