"""Strategic discounts: offer a code only where it changes the outcome, and never twice.

A rule names who qualifies: a basket of at least `min_basket`, and/or a person who abandoned a
cart before within `repeat_window`. With both set, `when="any"` (the default) lets either one
qualify; `when="all"` needs both. With neither set, every cart qualifies. Whatever the rule says,
a cart that already carries a discount, or holds an item with an excluded tag, gets no code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal
from urllib.parse import quote, urlsplit

from cartback.domain.durations import rounded
from cartback.domain.segments import SegmentFacts

DEFAULT_REPEAT_WINDOW = timedelta(days=30)


class DiscountKind(StrEnum):
    PERCENTAGE = "percentage"
    FIXED = "fixed"


class DiscountReason(StrEnum):
    OK = "ok"
    BELOW_THRESHOLD = "below_threshold"
    NOT_REPEAT = "not_repeat"
    EXCLUDED_ITEMS = "excluded_items"
    ALREADY_DISCOUNTED = "already_discounted"
    FAILED = "discount_failed"  # the platform did not create the code
    POOL_EMPTY = "discount_pool_empty"


@dataclass(frozen=True, slots=True)
class DiscountRule:
    kind: DiscountKind
    value: Decimal  # percent for PERCENTAGE, an amount in the basket's currency for FIXED
    expires_after: timedelta
    min_basket: Decimal | None = None
    repeat_abandonment: bool = False
    repeat_window: timedelta = DEFAULT_REPEAT_WINDOW
    exclude_tags: frozenset[str] = frozenset()  # lower-cased item tags
    when: Literal["any", "all"] = "any"

    def __post_init__(self) -> None:
        if self.value <= 0:
            raise ValueError(f"discount value must be positive, got {self.value}")
        if self.kind == DiscountKind.PERCENTAGE and self.value > 100:
            raise ValueError(f"a percentage discount cannot exceed 100, got {self.value}")
        if self.expires_after <= timedelta(0):
            raise ValueError("discount expires_after must be positive")
        if self.when not in ("any", "all"):
            raise ValueError(f"discount 'when' must be 'any' or 'all', got {self.when!r}")


@dataclass(frozen=True, slots=True)
class DiscountDecision:
    apply: bool
    reason: DiscountReason
    detail: str


def decide_discount(
    rule: DiscountRule, facts: SegmentFacts, cart_has_discount: bool
) -> DiscountDecision:
    if cart_has_discount:
        detail = "The cart already carries a discount; no second code is offered."
        return DiscountDecision(False, DiscountReason.ALREADY_DISCOUNTED, detail)
    excluded = _excluded_tags(rule, facts)
    if excluded:
        detail = f"The basket holds items tagged {', '.join(sorted(excluded))}, which get no code."
        return DiscountDecision(False, DiscountReason.EXCLUDED_ITEMS, detail)
    return _eligibility(rule, facts)


def _excluded_tags(rule: DiscountRule, facts: SegmentFacts) -> frozenset[str]:
    tags = frozenset().union(*(item.tags for item in facts.items))
    return rule.exclude_tags & tags


def _eligibility(rule: DiscountRule, facts: SegmentFacts) -> DiscountDecision:
    checks: list[DiscountDecision] = []
    if rule.min_basket is not None:
        checks.append(_threshold(rule.min_basket, facts))
    if rule.repeat_abandonment:
        checks.append(_repeat(rule.repeat_window, facts))
    if not checks:
        return DiscountDecision(True, DiscountReason.OK, "Every cart qualifies for this code.")
    passed = [check for check in checks if check.apply]
    failed = [check for check in checks if not check.apply]
    if rule.when == "all" and failed:
        return failed[0]
    if passed and (rule.when == "any" or not failed):
        return DiscountDecision(True, DiscountReason.OK, " ".join(c.detail for c in passed))
    return DiscountDecision(False, failed[0].reason, " ".join(c.detail for c in failed))


def _threshold(minimum: Decimal, facts: SegmentFacts) -> DiscountDecision:
    if facts.basket_value is None:
        detail = f"The basket's value in {facts.currency} is unknown, so no code is given."
        return DiscountDecision(False, DiscountReason.BELOW_THRESHOLD, detail)
    basket = f"{facts.basket_value:,.2f} {facts.currency}"
    if facts.basket_value >= minimum:
        return DiscountDecision(True, DiscountReason.OK, f"Basket {basket} ≥ {minimum:,}.")
    detail = f"Basket {basket} is below the {minimum:,} needed for a code."
    return DiscountDecision(False, DiscountReason.BELOW_THRESHOLD, detail)


def _repeat(window: timedelta, facts: SegmentFacts) -> DiscountDecision:
    since = facts.now - window
    recent = sum(1 for at in facts.abandonments if since <= at <= facts.now)
    earlier = max(recent - 1, 0)  # `abandonments` includes this cart
    days = rounded(window, words=True)
    if earlier:
        detail = f"Abandoned {earlier} other cart(s) in the last {days}."
        return DiscountDecision(True, DiscountReason.OK, detail)
    detail = f"First abandoned cart in the last {days}; codes go to repeat abandoners only."
    return DiscountDecision(False, DiscountReason.NOT_REPEAT, detail)


def recovery_link_with_code(shop_domain_or_base: str, code: str, redirect_url: str) -> str:
    """Shopify's shareable discount link: `https://{shop}/discount/{code}?redirect={path}`.

    Shopify applies the code to the session, then redirects to `redirect`, which must be a path
    on the shop (a relative URL); so only the recovery URL's path and query are kept.
    """
    if not code.strip():
        raise ValueError("a discount link needs a code")
    base = shop_domain_or_base.strip().rstrip("/")
    if "://" not in base:
        base = f"https://{base}"
    target = urlsplit(redirect_url)
    path = (target.path or "/") + (f"?{target.query}" if target.query else "")
    return f"{base}/discount/{quote(code.strip(), safe='')}?redirect={quote(path, safe='/')}"


MAX_CODE_LENGTH = 64


def code_problem(code: str) -> str | None:
    """What makes `code` unusable as a single-use discount code; None when it is fine."""
    if not code:
        return "is empty"
    if len(code) > MAX_CODE_LENGTH:
        return f"is longer than {MAX_CODE_LENGTH} characters"
    if any(char.isspace() for char in code):
        return "contains a space"
    return None


def clean_codes(codes: Iterable[str]) -> list[str]:
    """Codes stripped, in order; ValueError naming the first unusable one."""
    given = [code.strip() for code in codes]
    for code in given:
        problem = code_problem(code)
        if problem:
            raise ValueError(f"discount code {code!r} {problem}")
    return given
