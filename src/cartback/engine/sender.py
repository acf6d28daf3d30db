"""One send step: policy right before the send, the message row before the gateway call.

At most once per step to the customer: the message row (unique per run and step) is written in
the same transaction as the decision, before the gateway is called. A crash in between leaves the
row queued; the next claim sends it again under the same id, which the gateway deduplicates.
Nothing leaves the process while a transaction is open: decide and commit, call out (Shopify for
a discount code, then the gateway), record the outcome in a new transaction.
"""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

from cartback.channels.base import OutgoingMessage
from cartback.clock import Clock
from cartback.domain.events import Channel
from cartback.domain.flow import Flow, SendStep
from cartback.domain.policy import Action, Decision, Reason, SendFacts, decide
from cartback.domain.records import (
    Cart,
    Claim,
    DecisionAction,
    Link,
    Message,
    MessageStatus,
    RunStatus,
)
from cartback.engine import assignment, runs
from cartback.engine.compose import Composer, sms_figures
from cartback.engine.discounting import Created, Discount, DiscountIssuer, label_for
from cartback.engine.dispatch import ChannelSetup, Dispatcher, Outgoing
from cartback.engine.facts import Target, gather
from cartback.engine.pacing import Pacing
from cartback.engine.resend import recheck
from cartback.engine.retry import Breaker
from cartback.engine.segment_facts import segment_facts
from cartback.engine.sending import PendingCode, Prepared, SenderSettings, StoreInfo
from cartback.metrics import Metrics
from cartback.store.base import Store, Tx
from cartback.store.sent import Onward

log = logging.getLogger("cartback.sender")

__all__ = ["ChannelSetup", "Sender", "SenderSettings", "StoreInfo"]


class Sender:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        stores: Callable[[str], StoreInfo],
        channels: Mapping[Channel, ChannelSetup],
        settings: SenderSettings,
        composer: Composer,
        *,
        breaker: Breaker | None = None,
        rng: random.Random | None = None,
        discounts: DiscountIssuer | None = None,
        policy: Callable[[SendFacts], Decision] = decide,
        metrics: Metrics | None = None,
        store_channels: Mapping[str, Mapping[Channel, ChannelSetup]] | None = None,
        pacing: Pacing | None = None,
    ) -> None:
        self.store = store
        self.policy = policy  # the seam a simulation breaks on purpose, to test its checker
        self.clock = clock
        self.stores = stores
        self.channels = channels
        self.store_channels = dict(store_channels or {})  # stores with channels of their own
        self.settings = settings
        self.composer = composer
        self.discounts = discounts or DiscountIssuer()
        self.dispatcher = Dispatcher(
            store, clock, breaker or Breaker(), rng or random.Random(), metrics, pacing
        )

    def run_step(
        self,
        claim: Claim,
        flow: Flow,
        index: int,
        step: SendStep,
        *,
        held_out: bool = False,
        onward: Onward | None = None,
    ) -> Decision:
        """The step for the cart; a held-out cart gets the policy's checks and no message.
        `onward`: the run's move, written with the outcome of a message sent."""
        self.ready()
        with self.store.transaction() as tx:
            prepared = self.prepare(tx, claim, flow, index, step, held_out)
        return self.complete(claim, flow, index, prepared, onward)

    def ready(self) -> None:
        """What `prepare` needs, found before its transaction opens (not inside it)."""
        if self.settings.erase_keys is not None:
            self.settings.erase_keys()  # the secret found once

    def complete(
        self,
        claim: Claim,
        flow: Flow,
        index: int,
        prepared: Prepared | Decision,
        onward: Onward | None,
    ) -> Decision:
        """After the deciding transaction is committed: the Shopify code, then the gateway."""
        if isinstance(prepared, Decision):
            return prepared
        out = prepared.out
        if prepared.code is not None:
            out = self._settle_code(claim, flow.id, index, out, prepared.code)
        return self._deliver(claim, flow.id, index, out, onward)

    def _deliver(
        self, claim: Claim, flow_id: str, index: int, out: Outgoing, onward: Onward | None
    ) -> Decision:
        return self.dispatcher.deliver(claim, flow_id, index, out, onward)

    def channels_of(self, store_id: str) -> Mapping[Channel, ChannelSetup]:
        """The store's own channels (an agency's shop), else the global ones."""
        return self.store_channels.get(store_id, self.channels)

    def route(self, step: SendStep, store_id: str) -> Channel | None:
        """The channel that will carry a step: RCS falls back to SMS where there is no RCS."""
        channels = self.channels_of(store_id)
        if step.channel in channels:
            return step.channel
        if step.channel == Channel.RCS and step.fallback == Channel.SMS:
            return Channel.SMS if Channel.SMS in channels else None
        return None

    # deciding and writing the message (one transaction) ----------------------------------

    def prepare(
        self,
        tx: Tx,
        claim: Claim,
        flow: Flow,
        index: int,
        step: SendStep,
        held_out: bool,
        cart: Cart | None = None,
        *,
        entered: bool = False,
    ) -> Prepared | Decision:
        """`run_step`'s deciding part, in a transaction the caller opened (after `ready`) and
        commits before `complete` (the scheduler abandons the cart in the same one). `cart`: the
        cart as this transaction has it, locked; else it is read. `entered`: the run entered its
        flow in this transaction, so it has no message to look for (a run waiting for its cart's
        abandonment has none: `runs.schedule` restarts no run that has one)."""
        now = self.clock.now()
        cart = cart or tx.carts.get_for_update(claim.cart_id)
        if cart is None:
            raise LookupError(f"run {claim.id} points at a missing cart {claim.cart_id}")
        existing = None if entered else tx.messages.for_step(claim.id, index)
        if existing is not None:
            target = self._target(cart, Channel(existing.channel), Channel(existing.channel))
            rules = self.settings.policy
            held = recheck(tx, claim, flow.id, index, cart, existing, target, rules, now)
            return held or self._resume(tx, cart, step, existing, now)
        store = self.stores(cart.store_id)
        route = self.route(step, cart.store_id)
        target = self._target(cart, step.channel, route)
        decision = self.policy(gather(tx, cart, claim.id, target, self.settings.policy, now))
        if held_out and decision.action == Action.SEND:
            decision = assignment.held_out(flow.id)
            runs.record(tx, claim, flow.id, index, decision, now, action=DecisionAction.HOLDOUT)
            return decision
        runs.record(tx, claim, flow.id, index, decision, now)
        if decision.action == Action.SEND:
            if route is None:  # the policy skips a step no channel can carry
                raise RuntimeError(f"run {claim.id}: a send with no channel to carry it")
            runs.hold(tx, claim)
            if route != step.channel:
                detail = (
                    "The SMS provider offers no RCS, so the step's SMS fallback was sent instead."
                )
                note = Decision(Action.SEND, Reason.RCS_FALLBACK, detail)
                runs.record(tx, claim, flow.id, index, note, now, action=DecisionAction.FALLBACK)
            step, discount = self._personalise(tx, claim, flow.id, index, step, cart, store, now)
            return self._write(tx, claim, flow.id, index, step, route, cart, store, now, discount)
        if decision.action == Action.CANCEL:
            runs.finish(tx, claim, RunStatus.CANCELLED, str(decision.reason), now)
        elif decision.action == Action.DEFER and decision.until is not None:
            runs.wait(tx, claim, index, decision.until, now)
        return decision

    def _target(self, cart: Cart, channel: Channel, route: Channel | None) -> Target:
        store = self.stores(cart.store_id)
        return Target(
            channel,
            route,
            store.timezone,
            store.consent_mode,
            store.windows,
            self.settings.erase_keys() if self.settings.erase_keys is not None else (),
        )

    def _resume(
        self, tx: Tx, cart: Cart, step: SendStep, existing: Message, now: datetime
    ) -> Prepared | Decision:
        """A message row exists for this step: resend it under the same id, or move on."""
        if existing.status != MessageStatus.QUEUED:
            return Decision(Action.SKIP, Reason.OK, "already sent")
        route = Channel(existing.channel)
        setup = self.channels_of(cart.store_id).get(route)
        if setup is None:
            return Decision(Action.SKIP, Reason.CHANNEL_NOT_CONFIGURED, "channel removed")
        if step.wordings:
            template, _why = step.wording(segment_facts(tx, cart, now))
            step = replace(step, template=template)
        store = self.stores(cart.store_id)
        code = existing.discount_code
        label = label_for(step.discount, cart.currency) if step.discount else None
        link_code = existing.link_code or ""
        compose = self._composing(existing.id, route, step, cart, store, existing.sender, link_code)
        message = compose(_discount_words(code, label))
        log.info("sending queued message again", extra={"message_id": existing.id})
        out = Outgoing(message, setup, existing.attempts)
        if code is None or not existing.discount_pending:
            return Prepared(out)
        pending = PendingCode(code, True, cart, step, existing.created_at, compose({}), link_code)
        return Prepared(out, pending)

    def _personalise(
        self,
        tx: Tx,
        claim: Claim,
        flow_id: str,
        index: int,
        step: SendStep,
        cart: Cart,
        store: StoreInfo,
        now: datetime,
    ) -> tuple[SendStep, Discount | None]:
        """The wording for the person's segment, and the discount if the rule grants one."""
        if not step.wordings and step.discount is None:
            return step, None
        facts = segment_facts(tx, cart, now)
        template, why = step.wording(facts)
        if why is not None:
            note = Decision(Action.SEND, Reason.OK, f"Wording for {why}.")
            runs.record(tx, claim, flow_id, index, note, now, action=DecisionAction.BRANCH)
        discount = None
        if step.discount is not None:
            discount = self.discounts.choose(tx, step.discount, cart, facts, store.shop, now)
            if not discount.pending:  # a Shopify code's decision waits for Shopify's answer
                _note_discount(tx, claim, flow_id, index, now, discount)
        return replace(step, template=template), discount

    def _write(
        self,
        tx: Tx,
        claim: Claim,
        flow_id: str,
        index: int,
        step: SendStep,
        route: Channel,
        cart: Cart,
        store: StoreInfo,
        now: datetime,
        discount: Discount | None,
    ) -> Prepared:
        setup = self.channels_of(cart.store_id)[route]
        applied = discount if discount is not None and discount.applied else None
        message_id, link_code = secrets.token_hex(16), secrets.token_urlsafe(9)
        compose = self._composing(message_id, route, step, cart, store, setup.sender, link_code)
        message = compose(_discount_words(applied.code, applied.label) if applied else {})
        segments, encoding, cost = sms_figures(route, message.text, setup.cost_per_segment)
        target = (applied and applied.link_target) or _plain_target(cart)
        tx.messages.add(
            Message(
                id=message_id,
                store_id=cart.store_id,
                cart_id=cart.id,
                run_id=claim.id,
                flow_id=flow_id,
                step_index=index,
                channel=str(route),
                provider=setup.gateway.name,
                recipient=message.to,
                sender=setup.sender,
                body=message.text,
                encoding=encoding,
                segments=segments,
                cost=cost,
                currency=store.currency or cart.currency,
                link_code=link_code,
                discount_code=applied.code if applied else None,
                discount_pending=bool(applied and applied.pending),
                status=MessageStatus.QUEUED,
                created_at=now,
                experiment_id=step.arm[0] if step.arm else None,
                arm=step.arm[1] if step.arm else None,
            ),
            Link(link_code, message_id, cart.id, target, now),
        )
        out = Outgoing(message, setup, 0)
        if applied is None or not applied.pending or applied.code is None:
            return Prepared(out)
        pending = PendingCode(applied.code, False, cart, step, now, compose({}), link_code)
        return Prepared(out, pending)

    def _composing(
        self,
        message_id: str,
        route: Channel,
        step: SendStep,
        cart: Cart,
        store: StoreInfo,
        sender: str | None,
        link_code: str,
    ) -> Callable[[Mapping[str, str]], OutgoingMessage]:
        def compose(extra: Mapping[str, str]) -> OutgoingMessage:
            return self.composer.compose(
                message_id=message_id,
                route=route,
                step=step,
                cart=cart,
                store_name=store.name,
                sender=sender,
                link_code=link_code,
                extra=extra,
                store_locale=store.locale,
            )

        return compose

    # the Shopify code, between the two transactions ----------------------------------------

    def _settle_code(
        self, claim: Claim, flow_id: str, index: int, out: Outgoing, pending: PendingCode
    ) -> Outgoing:
        """Create the recorded code at Shopify (no transaction open), then record the outcome.
        A code Shopify did not create leaves the message without it, recomposed before sending."""
        created = self.discounts.create(
            pending.code,
            pending.step.discount,
            pending.cart,
            self.stores(pending.cart.store_id).shop,
            pending.chosen_at,
            retry=pending.retry,
        )
        now = self.clock.now()
        message_id = out.message.id
        with self.store.transaction() as tx:
            _note_discount(tx, claim, flow_id, index, now, created)
            if created.ok:
                tx.messages.update(message_id, discount_pending=False)
                return out
            plain = pending.plain
            segments, encoding, cost = sms_figures(
                plain.channel, plain.text, out.setup.cost_per_segment
            )
            tx.messages.update(
                message_id,
                body=plain.text,
                segments=segments,
                encoding=encoding,
                cost=cost,
                discount_code=None,
                discount_pending=False,
            )
            tx.messages.retarget_link(pending.link_code, _plain_target(pending.cart))
        return replace(out, message=plain)


def _note_discount(
    tx: Tx, claim: Claim, flow_id: str, index: int, now: datetime, outcome: Discount | Created
) -> None:
    action = DecisionAction.DISCOUNT
    runs.decide(tx, claim, flow_id, index, now, action, outcome.reason, outcome.detail)


def _discount_words(code: str | None, label: str | None) -> dict[str, str]:
    """The template variables of a discount: `discount_code` and `discount` ("10%")."""
    return {"discount_code": code, "discount": label or ""} if code else {}


def _plain_target(cart: Cart) -> str:
    if not cart.recovery_url:  # the policy sends nothing for a cart without one
        raise ValueError(f"cart {cart.id} has no recovery URL to link to")
    return cart.recovery_url
