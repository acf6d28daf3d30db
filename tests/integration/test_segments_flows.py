"""Segments choose the flow, step conditions and per-segment wording, end to end on both DBs.

Also drives `examples/segments.yaml`: one cart per branch; `pytest -s -k examples` prints what
each cart got.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from cartback.api.app import create_app
from cartback.clock import FakeClock
from cartback.config import load_config
from cartback.domain.events import Channel
from cartback.runtime import build
from cartback.store.sql import SqlStore
from cartback.testing import FakeGateway
from tests.integration.conftest import START
from tests.integration.test_policy_rules import (
    ALICE_EMAIL,
    ALICE_PHONE,
    BOB_EMAIL,
    BOB_PHONE,
    GenericShop,
    config_yaml,
    flow_yaml,
    open_shop,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "segments.yaml"
CAROL_PHONE, CAROL_EMAIL = "+4520123458", "carol@example.com"
DAVE_PHONE, DAVE_EMAIL = "+4520123459", "dave@example.com"

SEGMENTS = """
vip: {customer_tags: {includes: [VIP]}}
big_basket: {basket_value: {gte: 1000}}
repeat: {abandoned_times: {gte: 2, within: 30d}}
"""


def _sms(text: str) -> str:
    return f"- send: sms\n  template: '{text} {{{{ link }}}}'\n"


# In file order the catch-all comes first: priority, not order, decides.
PRIORITY_FLOWS = (
    flow_yaml("everyone", "north", _sms("Your basket is saved:"))
    + flow_yaml("repeat", "north", _sms("Back again?"), priority="10", **{"if": "repeat"})
    + flow_yaml(
        "big-basket",
        "north",
        _sms("Big basket:"),
        abandon_after="2h",
        priority="20",
        **{"if": "big_basket"},
    )
    + flow_yaml("vip", "north", _sms("Dear VIP:"), priority="30", **{"if": "vip"})
    + flow_yaml("south-vip", "south", _sms("Dear VIP:"), **{"if": "vip"})
)


@contextmanager
def segment_shop(db_url: str, tmp_path: Path, flows: str = PRIORITY_FLOWS) -> Iterator[GenericShop]:
    with open_shop(db_url, tmp_path, config_yaml(flows, segments=SEGMENTS)) as shop:
        yield shop


def abandon_detail(shop: GenericShop, store: str, key: str) -> dict[str, Any]:
    [entry] = [d for d in shop.decisions(store, key) if d["action"] == "abandon"]
    return entry


# --- choosing the flow ------------------------------------------------------------------------


def test_the_highest_priority_matching_flow_takes_the_cart_and_only_it(
    db_url: str, tmp_path: Path
) -> None:
    with segment_shop(db_url, tmp_path) as shop:
        shop.cart("north", "vip-big", total="1500.00", tags=["vip", "newsletter"])
        shop.advance(timedelta(minutes=30))
        shop.advance(timedelta(hours=2))

        [sms] = shop.sms.sent
        assert sms.text.startswith("Dear VIP: https://cb.example/r/")
        cart = shop.detail("north", "vip-big")
        assert cart["run"]["flow_id"] == "vip" and cart["run"]["status"] == "done"
        assert {m["flow_id"] for m in cart["messages"]} == {"vip"}
        chosen = abandon_detail(shop, "north", "vip-big")
        assert chosen["flow_id"] == "vip"
        assert "Chosen flow vip: segment vip holds: customer tags include vip" in chosen["detail"]


def test_a_flow_that_waits_longer_takes_its_own_time(db_url: str, tmp_path: Path) -> None:
    with segment_shop(db_url, tmp_path) as shop:
        shop.cart("north", "big", total="1500.00")
        shop.advance(timedelta(minutes=30))
        shop.advance(timedelta(minutes=89))
        assert shop.sms.sent == []
        assert shop.detail("north", "big")["status"] == "open"

        shop.advance(timedelta(minutes=1))
        [sms] = shop.sms.sent
        assert sms.text.startswith("Big basket:")
        chosen = abandon_detail(shop, "north", "big")
        assert chosen["detail"].startswith("No update or order for 2h: the cart is abandoned.")
        assert (
            "flow big-basket: segment big_basket holds: basket 1,500.00 DKK ≥ 1,000"
            in (chosen["detail"])
        )
        assert "passed over: flow vip: segment vip does not hold" in chosen["detail"]


def test_a_second_abandonment_within_30_days_is_a_repeat(db_url: str, tmp_path: Path) -> None:
    with segment_shop(db_url, tmp_path) as shop:
        shop.cart("north", "first")
        shop.advance(timedelta(minutes=30))
        shop.clock.advance(timedelta(days=4))  # past the 72h cooldown
        shop.cart("north", "second")
        shop.advance(timedelta(minutes=30))

        assert shop.detail("north", "first")["run"]["flow_id"] == "everyone"
        second = abandon_detail(shop, "north", "second")
        assert second["flow_id"] == "repeat", second["detail"]
        assert "abandoned 2 carts in the last 30d" in second["detail"]
        assert [m.text.split(" https")[0] for m in shop.sms.sent] == [
            "Your basket is saved:",
            "Back again?",
        ]


def test_a_cart_no_flow_takes_is_recorded_with_why(db_url: str, tmp_path: Path) -> None:
    with segment_shop(db_url, tmp_path) as shop:
        shop.cart("south", "plain", total="300.00")
        shop.advance(timedelta(minutes=30))

        assert shop.sms.sent == []
        [decision] = shop.decisions("south", "plain")
        assert decision["reason"] == "no_matching_flow" and decision["action"] == "skip"
        assert decision["detail"] == (
            "No flow takes this cart: flow south-vip: segment vip does not hold: "
            "customer tags include none of vip."
        )
        assert shop.detail("south", "plain")["run"]["status"] == "done"
        assert shop.api("/api/report", store="south")["skipped"] == {"no_matching_flow": 1}


# --- conditions on steps ----------------------------------------------------------------------

GUARDED = flow_yaml(
    "guarded",
    "north",
    """
    - send: sms
      if: big_basket
      template: 'A big basket: {{ link }}'
    - wait: 1h
    - send: email
      if: {not: {segment: big_basket}}
    """,
)


def test_a_step_whose_condition_fails_is_passed_over_with_the_explanation(
    db_url: str, tmp_path: Path
) -> None:
    with segment_shop(db_url, tmp_path, GUARDED) as shop:
        shop.cart("north", "small", total="200.00")
        shop.cart("north", "big", phone=BOB_PHONE, email=BOB_EMAIL, total="1500.00")
        shop.advance(timedelta(minutes=30))
        shop.advance(timedelta(hours=1))

        assert [m.to for m in shop.sms.sent] == [BOB_PHONE]
        assert [m.to for m in shop.email.sent] == [ALICE_EMAIL]
        small = shop.decision("north", "small", "condition")
        assert small["action"] == "skip" and small["step_index"] == 0
        assert small["detail"] == (
            "Step 1 passed over: segment big_basket does not hold: basket 200.00 DKK, not ≥ 1,000."
        )
        big = shop.decision("north", "big", "condition")
        assert big["step_index"] == 2
        assert big["detail"] == (
            "Step 3 passed over: the condition does not hold: "
            "not (segment big_basket: basket 1,500.00 DKK ≥ 1,000)."
        )


ENDING = flow_yaml(
    "ending",
    "north",
    """
    - send: sms
      template: 'Your basket: {{ link }}'
    - wait: 24h
    - end: returning customers get one reminder
      if: {customer: returning}
    - send: email
    """,
)


def test_an_end_step_under_a_condition_ends_the_flow(db_url: str, tmp_path: Path) -> None:
    with segment_shop(db_url, tmp_path, ENDING) as shop:
        shop.cart("north", "returning", orders_count=4)
        shop.cart("north", "new", phone=BOB_PHONE, email=BOB_EMAIL, orders_count=0)
        shop.advance(timedelta(minutes=30))
        shop.advance(timedelta(hours=24))
        shop.advance(timedelta(hours=24))

        assert sorted(m.to for m in shop.sms.sent) == [ALICE_PHONE, BOB_PHONE]
        assert [m.to for m in shop.email.sent] == [BOB_EMAIL]
        ended = shop.decision("north", "returning", "flow_ended")
        assert ended["action"] == "end" and ended["step_index"] == 2
        assert ended["detail"] == "The flow ends here: returning customers get one reminder"
        assert shop.detail("north", "returning")["run"]["status"] == "done"
        passed = shop.decision("north", "new", "condition")
        assert "customer is new (0 previous orders), not returning" in passed["detail"]


# --- wording per segment ----------------------------------------------------------------------

WORDED = flow_yaml(
    "worded",
    "north",
    """
    - send: sms
      template: 'Hi {{ first_name }}, your basket is saved: {{ link }}'
      templates:
        vip: 'Dear {{ first_name }}, we kept your favourites aside: {{ link }}'
    """,
)


def test_a_segment_gets_its_own_wording_and_the_branch_is_recorded(
    db_url: str, tmp_path: Path
) -> None:
    with segment_shop(db_url, tmp_path, WORDED) as shop:
        shop.cart("north", "vip", tags=["VIP"])
        shop.cart("north", "other", phone=BOB_PHONE, email=BOB_EMAIL, first_name="Bob")
        shop.advance(timedelta(minutes=30))

        texts = {m.to: m.text for m in shop.sms.sent}
        assert texts[ALICE_PHONE].startswith("Dear Alice, we kept your favourites aside: https://")
        assert texts[BOB_PHONE].startswith("Hi Bob, your basket is saved: https://")
        [branch] = [d for d in shop.decisions("north", "vip") if d["action"] == "branch"]
        assert branch["detail"] == ("Wording for segment vip holds: customer tags include vip.")
        assert all(d["action"] != "branch" for d in shop.decisions("north", "other"))


# --- the example config -----------------------------------------------------------------------


@contextmanager
def example_shop(db_url: str) -> Iterator[GenericShop]:
    settings = load_config(EXAMPLE, environ={})
    clock = FakeClock(START)
    sms, email = FakeGateway(clock, name="fake-sms"), FakeGateway(clock, name="fake-email")
    runtime = build(
        settings,
        clock=clock,
        gateways={Channel.SMS: sms, Channel.EMAIL: email},
        store=SqlStore.connect(db_url),
    )
    try:
        with TestClient(create_app(runtime)) as client:
            yield GenericShop(
                runtime, client, clock, sms, email, EXAMPLE, "change-me-too", "change-me"
            )
    finally:
        runtime.store.close()


def _summary(shop: GenericShop, key: str) -> str:
    cart = shop.detail("nordic", key)
    decisions = [
        f"{d['action']}/{d['reason']}: {d['detail']}"
        for d in cart["timeline"]
        if d["kind"] == "decision"
    ]
    texts = [f"{m['channel']}: {m['body'].splitlines()[0]}" for m in cart["messages"]]
    return (
        f"cart {key}: flow={cart['run']['flow_id']} | "
        + " | ".join(decisions)
        + " || sent "
        + " / ".join(texts)
    )


def test_examples_segments_yaml_sends_each_branch_its_own_way(db_url: str) -> None:
    with example_shop(db_url) as shop:
        assert shop.api("/api/carts") == []
        with shop.runtime.store.transaction() as tx:
            tx.codes.import_codes("nordic", ["NK-10-A1", "NK-10-B2"], START, None)
        # The repeat abandoner's first cart, four days before the others.
        shop.cart("nordic", "dave-earlier", phone=DAVE_PHONE, email=DAVE_EMAIL, first_name="Dave")
        shop.advance(timedelta(minutes=30))
        shop.clock.advance(timedelta(days=4))

        shop.cart("nordic", "vip", total="450.00", tags=["vip"], first_name="Alice")
        shop.cart(
            "nordic", "big", phone=BOB_PHONE, email=BOB_EMAIL, total="1800.00", first_name="Bob"
        )
        shop.cart("nordic", "repeat", phone=DAVE_PHONE, email=DAVE_EMAIL, first_name="Dave")
        shop.cart(
            "nordic",
            "plain",
            phone=CAROL_PHONE,
            email=CAROL_EMAIL,
            first_name="Carol",
            orders_count=2,
        )
        for _ in range(4):
            shop.advance(timedelta(minutes=20))
        shop.advance(timedelta(hours=24))

        for key in ("vip", "big", "repeat", "plain", "dave-earlier"):
            print(_summary(shop, key))

        flows = {k: shop.detail("nordic", k)["run"]["flow_id"] for k in ("vip", "big", "repeat")}
        assert flows == {"vip": "vip", "big": "big-basket", "repeat": "standard"}
        assert shop.detail("nordic", "plain")["run"]["flow_id"] == "standard"
        by_person = {m.to: m.text for m in shop.sms.sent}
        assert by_person[ALICE_PHONE].startswith("Hi Alice, it's Maja from Nordic Knitwear.")
        assert "Use NK-10-A1 for 10% off within 48 hours." in by_person[BOB_PHONE]
        assert by_person[DAVE_PHONE].startswith("Hi Dave, still deciding?")
        assert by_person[CAROL_PHONE].startswith(
            "Hi Carol, your basket at Nordic Knitwear is saved:"
        )
        assert sorted(m.to for m in shop.email.sent) == [BOB_EMAIL, DAVE_EMAIL]
        assert "flow_ended" in shop.reasons("nordic", "plain")
        [discount] = [d for d in shop.decisions("nordic", "big") if d["action"] == "discount"]
        assert discount["reason"] == "ok" and "pool code NK-10-A1" in discount["detail"]
        [branch] = [d for d in shop.decisions("nordic", "repeat") if d["action"] == "branch"]
        assert "segment repeat holds: abandoned 2 carts in the last 30d" in branch["detail"]
