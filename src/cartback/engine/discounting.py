"""Giving a recovery its discount code, when the step's rule says it has earned one.

Shopify stores get a unique single-use code created through the Admin API, and a link that
applies it; other platforms draw a code from the pool imported with `cartback codes import`.

A Shopify code is chosen and recorded (pending) in the transaction that writes the message, and
created at Shopify after that transaction commits: no network call holds a database lock. A retry
after a crash finds the pending code on the message and creates that same code again, where
Shopify's "already taken" means an earlier try of ours got through.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from cartback.domain.discounts import (
    DiscountKind,
    DiscountReason,
    DiscountRule,
    decide_discount,
    recovery_link_with_code,
)
from cartback.domain.durations import rounded
from cartback.domain.records import Cart
from cartback.domain.segments import SegmentFacts
from cartback.integrations.shopify_admin import (
    DiscountError,
    DiscountRejected,
    ShopifyAdmin,
    make_code,
)
from cartback.store.base import Tx

log = logging.getLogger("cartback.discounts")
LOW_POOL = 20  # fewer codes left than this: warn


@dataclass(frozen=True, slots=True)
class ShopAccess:
    platform: str
    shop_domain: str | None
    access_token: str | None
    admin_url: str | None = None  # the Admin API root; None: https://{shop_domain}

    @property
    def creates_codes(self) -> bool:
        return self.platform == "shopify" and bool(self.shop_domain and self.access_token)


@dataclass(frozen=True, slots=True)
class Discount:
    """The outcome: a code (and where the link should lead), or why there is none."""

    code: str | None
    reason: str
    detail: str
    link_target: str | None = None
    label: str | None = None  # "10%" or "50.00 DKK", for the wording
    pending: bool = False  # a Shopify code still to be created, after the transaction

    @property
    def applied(self) -> bool:
        return self.code is not None


@dataclass(frozen=True, slots=True)
class Created:
    ok: bool
    reason: str
    detail: str


AdminFactory = Callable[[ShopAccess], ShopifyAdmin]


class DiscountIssuer:
    """`admin` makes the Admin API client of a shop; by default one at the shop's `admin_url`,
    over `transport` when given (a local fake in tests)."""

    def __init__(
        self, admin: AdminFactory | None = None, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.admin = admin or self._admin
        self.transport = transport

    def _admin(self, shop: ShopAccess) -> ShopifyAdmin:
        return ShopifyAdmin(
            shop.shop_domain or "",
            shop.access_token or "",
            base_url=shop.admin_url,
            transport=self.transport,
        )

    def choose(
        self,
        tx: Tx,
        rule: DiscountRule,
        cart: Cart,
        facts: SegmentFacts,
        shop: ShopAccess,
        now: datetime,
    ) -> Discount:
        """Decide inside the transaction: a pool code is claimed here, a Shopify code chosen."""
        verdict = decide_discount(rule, facts, cart_has_discount=bool(cart.discount_codes))
        if not verdict.apply:
            return Discount(None, str(verdict.reason), verdict.detail)
        label = label_for(rule, cart.currency)
        if shop.creates_codes:
            code = make_code()
            target = recovery_link_with_code(
                f"https://{shop.shop_domain}", code, cart.recovery_url or "/"
            )
            detail = _created_detail(rule, cart, code)
            return Discount(
                code, DiscountReason.OK, detail, link_target=target, label=label, pending=True
            )
        return _from_pool(tx, cart, label, now)

    def create(
        self,
        code: str,
        rule: DiscountRule | None,
        cart: Cart,
        shop: ShopAccess,
        starts_at: datetime,
        *,
        retry: bool,
    ) -> Created:
        """Create a chosen code at Shopify; call it with no transaction open. `retry`: an earlier
        try may have created it, so Shopify's "taken" means ours."""
        if rule is None or not shop.creates_codes:
            return Created(False, DiscountReason.FAILED, "The step gives no discount any more.")
        admin = self.admin(shop)
        try:
            admin.create_recovery_code(
                code=code,
                title=f"Basket recovery {cart.cart_key}",
                percentage=rule.value if rule.kind == DiscountKind.PERCENTAGE else None,
                amount=rule.value if rule.kind == DiscountKind.FIXED else None,
                currency=cart.currency,
                starts_at=starts_at,
                ends_at=starts_at + rule.expires_after,
            )
        except DiscountRejected as exc:
            if retry and exc.code_taken:
                log.info("discount code already created", extra={"store": cart.store_id})
                return Created(True, DiscountReason.OK, _created_detail(rule, cart, code))
            return _failed(cart, exc)
        except DiscountError as exc:
            return _failed(cart, exc)
        finally:
            admin.close()
        return Created(True, DiscountReason.OK, _created_detail(rule, cart, code))


def _created_detail(rule: DiscountRule, cart: Cart, code: str) -> str:
    valid = rounded(rule.expires_after, words=True)
    return f"{label_for(rule, cart.currency)} off with single-use code {code}, valid {valid}."


def _failed(cart: Cart, exc: DiscountError) -> Created:
    log.warning("discount code not created", extra={"store": cart.store_id, "error": str(exc)})
    detail = f"Shopify did not create the code ({exc}); sent without a discount."
    return Created(False, DiscountReason.FAILED, detail)


def _from_pool(tx: Tx, cart: Cart, label: str, now: datetime) -> Discount:
    code = tx.codes.claim(cart.store_id, cart.id, now)
    if code is None:
        detail = "The discount code pool is empty; sent without a discount."
        log.warning("discount code pool empty", extra={"store": cart.store_id})
        return Discount(None, DiscountReason.POOL_EMPTY, detail)
    left = tx.codes.remaining(cart.store_id, now)
    if left < LOW_POOL:
        log.warning("discount code pool running low", extra={"store": cart.store_id, "left": left})
    detail = f"{label} off with pool code {code} ({left} left)."
    return Discount(code, DiscountReason.OK, detail, label=label)


def label_for(rule: DiscountRule, currency: str) -> str:
    if rule.kind == DiscountKind.PERCENTAGE:
        return f"{rule.value.normalize():f}%"
    return f"{rule.value:.2f} {currency}"
