"""Giving a recovery its discount code, when the step's rule says it has earned one.

Shopify stores get a unique single-use code created through the Admin API, and a link that
applies it; other platforms draw a code from the pool imported with `cartback codes import`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from cartback.domain.discounts import (
    DiscountKind,
    DiscountRule,
    decide_discount,
    recovery_link_with_code,
)
from cartback.domain.segments import SegmentFacts
from cartback.integrations.shopify_admin import DiscountError, ShopifyAdmin, make_code
from cartback.store import discount_codes
from cartback.store.types import AnyRow

log = logging.getLogger("cartback.discounts")
LOW_POOL = 20  # fewer codes left than this: warn


@dataclass(frozen=True, slots=True)
class ShopAccess:
    platform: str
    shop_domain: str | None
    access_token: str | None


@dataclass(frozen=True, slots=True)
class Discount:
    """The outcome: a code (and where the link should lead), or why there is none."""

    code: str | None
    reason: str
    detail: str
    link_target: str | None = None
    label: str | None = None  # "10%" or "50.00 DKK", for the wording

    @property
    def applied(self) -> bool:
        return self.code is not None


AdminFactory = Callable[[str, str], ShopifyAdmin]


class DiscountIssuer:
    def __init__(self, admin: AdminFactory | None = None) -> None:
        self.admin = admin or (lambda domain, token: ShopifyAdmin(domain, token))

    def issue(
        self,
        conn: Connection,
        rule: DiscountRule,
        cart: AnyRow,
        facts: SegmentFacts,
        shop: ShopAccess,
        now: datetime,
    ) -> Discount:
        verdict = decide_discount(rule, facts, cart_has_discount=bool(cart.discount_codes))
        if not verdict.apply:
            return Discount(None, str(verdict.reason), verdict.detail)
        label = _label(rule, cart.currency)
        if shop.platform == "shopify" and shop.shop_domain and shop.access_token:
            return self._shopify(rule, cart, shop, label, now)
        return _from_pool(conn, cart, label, now)

    def _shopify(
        self, rule: DiscountRule, cart: AnyRow, shop: ShopAccess, label: str, now: datetime
    ) -> Discount:
        assert shop.shop_domain is not None and shop.access_token is not None
        admin = self.admin(shop.shop_domain, shop.access_token)
        try:
            code = admin.create_recovery_code(
                code=make_code(),
                title=f"Basket recovery {cart.cart_key}",
                percentage=rule.value if rule.kind == DiscountKind.PERCENTAGE else None,
                amount=rule.value if rule.kind == DiscountKind.FIXED else None,
                currency=cart.currency,
                starts_at=now,
                ends_at=now + rule.expires_after,
            )
        except DiscountError as exc:
            log.warning(
                "discount code not created", extra={"store": cart.store_id, "error": str(exc)}
            )
            detail = f"Shopify did not create the code ({exc}); sent without a discount."
            return Discount(None, "discount_failed", detail)
        finally:
            admin.close()
        target = recovery_link_with_code(f"https://{shop.shop_domain}", code, cart.recovery_url)
        detail = f"{label} off with single-use code {code}, valid {_hours(rule)}."
        return Discount(code, "ok", detail, link_target=target, label=label)


def _from_pool(conn: Connection, cart: AnyRow, label: str, now: datetime) -> Discount:
    code = discount_codes.claim_code(conn, cart.store_id, cart.id, now)
    if code is None:
        detail = "The discount code pool is empty; sent without a discount."
        log.warning("discount code pool empty", extra={"store": cart.store_id})
        return Discount(None, "discount_pool_empty", detail)
    left = discount_codes.remaining(conn, cart.store_id, now)
    if left < LOW_POOL:
        log.warning("discount code pool running low", extra={"store": cart.store_id, "left": left})
    return Discount(code, "ok", f"{label} off with pool code {code} ({left} left).", label=label)


def _label(rule: DiscountRule, currency: str) -> str:
    if rule.kind == DiscountKind.PERCENTAGE:
        return f"{rule.value.normalize():f}%"
    return f"{rule.value:.2f} {currency}"


def _hours(rule: DiscountRule) -> str:
    hours = rule.expires_after.total_seconds() / 3600
    return f"{hours:g} hours" if hours < 48 else f"{hours / 24:g} days"
