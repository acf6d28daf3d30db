"""Which rules need a shop's admin data: found through segments, step conditions, wordings and
discount exclusions, each named once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from cartback.domain.admin_needs import admin_needs
from cartback.domain.discounts import DiscountKind, DiscountRule
from cartback.domain.events import Channel
from cartback.domain.flow import Flow, Guard, SendStep, WaitStep
from cartback.domain.segments import (
    All,
    BasketItems,
    Bounds,
    Compare,
    CustomerIs,
    CustomerTags,
    Not,
    SegmentRef,
)

VIP = CustomerTags(includes=frozenset({"vip"}))
BIG = Compare("basket_value", Bounds((("gte", Decimal(100)),)))


def _flow(flow_id: str, *steps: SendStep | WaitStep, guard: Guard | None = None) -> Flow:
    return Flow(flow_id, "acme", timedelta(minutes=30), steps, guard=guard)


def test_rules_on_customer_and_product_data_are_named_where_they_are() -> None:
    discount = DiscountRule(
        DiscountKind.PERCENTAGE, Decimal(10), timedelta(hours=48), exclude_tags=frozenset({"x"})
    )
    wording = Guard(Compare("total_spent", Bounds((("gte", Decimal(500)),))), "segment big")
    flows = [
        _flow("vip", SendStep(Channel.SMS), guard=Guard(SegmentRef("vip", VIP), "segment vip")),
        _flow(
            "all",
            WaitStep(timedelta(hours=1), guard=Guard(Not(All((BIG, CustomerIs("new")))), "x")),
            SendStep(Channel.SMS, wordings=((wording, "Hi"),), discount=discount),
            SendStep(Channel.SMS, guard=Guard(BasketItems(collections_any=frozenset({"s"})), "c")),
        ),
    ]

    needs = admin_needs(flows)

    assert needs.customer == (
        "flow vip: customer tags",
        "flow all step 1: customer new (the shop's order count)",
        "flow all step 2 wording: total spent",
    )
    assert needs.products == (
        "flow all step 3: basket item collections",
        "flow all step 2: discount excluded item tags",
    )


def test_rules_on_the_basket_alone_need_nothing() -> None:
    needs = admin_needs([_flow("big", SendStep(Channel.SMS, guard=Guard(BIG, "big")))])
    assert not needs.any and needs.describe() == ""
