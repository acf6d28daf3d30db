"""The policy a shopper notices, end to end through webhooks, the API and the worker.

Cooldowns across flows, stores and other systems' sends; one reminder per person; no SMS after a
purchase, after the deadline or twice per abandonment; consent modes; US sending windows; and
two workers racing to message the same person. Every test runs on SQLite and PostgreSQL.

`GenericShop` (generic webhooks from stores marked `insecure: true`, a fake clock, fake SMS and
email gateways) is also used by the segment, discount and contact tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from textwrap import dedent, indent
from typing import Any

from fastapi.testclient import TestClient

from cartback.api.app import create_app
from cartback.clock import FakeClock
from cartback.config import load_config
from cartback.domain.events import Channel
from cartback.domain.phone import normalize_phone
from cartback.engine.scheduler import SchedulerSettings
from cartback.integrations import generic
from cartback.runtime import Runtime, build
from cartback.testing import FakeGateway
from tests.integration.conftest import START, TOKEN

ALICE_PHONE = "+4520123456"
ALICE_EMAIL = "alice@example.com"
BOB_PHONE = "+4520123457"
BOB_EMAIL = "bob@example.com"
MIAMI = "+13052345678"  # a valid Miami (Florida, 305) mobile number
MIAMI_2 = "+13057891234"

STORE_IDS = ("north", "south")
NO_QUIET_HOURS = "quiet_hours: null\ncooldown: 72h\n"


def store_yaml(store_id: str, **extra: str) -> str:
    """A generic store that takes unsigned webhooks, in Copenhagen, selling in DKK."""
    fields = {
        "id": store_id,
        "platform": "generic",
        "name": store_id.capitalize(),
        "insecure": "true",
        "timezone": "Europe/Copenhagen",
        "default_country": "DK",
        "currency": "DKK",
        **extra,
    }
    lines = [f"{key}: {value}" for key, value in fields.items()]
    return "  - " + "\n    ".join(lines) + "\n"


def flow_yaml(
    flow_id: str, store: str, steps: str, abandon_after: str = "30m", **extra: str
) -> str:
    head = f"  - id: {flow_id}\n    store: {store}\n    abandon_after: {abandon_after}\n"
    head += "".join(f"    {key}: {value}\n" for key, value in extra.items())
    return head + "    steps:\n" + indent(dedent(steps).strip("\n") + "\n", "      ")


def config_yaml(
    flows: str,
    *,
    stores: str | None = None,
    policy: str = NO_QUIET_HOURS,
    segments: str = "",
) -> str:
    stores = stores or "".join(store_yaml(s) for s in STORE_IDS)
    text = (
        "database_url: {db_url}\n"
        "public_url: https://cb.example\n"
        "api_token: {token}\n"
        "stores:\n" + stores + "channels:\n"
        "  sms: {provider: outbox, path: sms.jsonl, sender: Shop, cost_per_segment: 0.30}\n"
        '  email: {provider: outbox, path: mail.jsonl, from: "Shop <shop@example.com>"}\n'
        "policy:\n" + indent(dedent(policy), "  ") + "flows:\n" + flows
    )
    if segments:
        text += "segments:\n" + indent(dedent(segments).strip("\n") + "\n", "  ")
    return text


def build_runtime(
    db_url: str, directory: Path, config: str, start: datetime = START
) -> tuple[Runtime, FakeClock, FakeGateway, FakeGateway, Path]:
    """A runtime on a fake clock whose SMS and email go to fake gateways."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "cartback.yaml"
    path.write_text(config.replace("{db_url}", db_url).replace("{token}", TOKEN))
    clock = FakeClock(start)
    sms, email = FakeGateway(clock, name="fake-sms"), FakeGateway(clock, name="fake-email")
    runtime = build(
        load_config(path, environ={}),
        clock=clock,
        gateways={Channel.SMS: sms, Channel.EMAIL: email},
    )
    return runtime, clock, sms, email, path


@dataclass
class GenericShop:
    """Drives cartback the way generic-webhook stores and their shoppers would."""

    runtime: Runtime
    client: TestClient
    clock: FakeClock
    sms: FakeGateway
    email: FakeGateway
    config_path: Path
    secret: str | None = None  # signs each webhook; None for stores marked `insecure: true`
    token: str = TOKEN  # the config's api_token

    def post(self, store: str, payload: dict[str, Any]) -> Any:
        body = json.dumps({"event_id": str(uuid.uuid4()), **payload}).encode()
        headers = {"Content-Type": "application/json"}
        if self.secret is not None:
            stamp = int(self.clock.now().timestamp())
            headers[generic.SIGNATURE_HEADER] = generic.sign(body, self.secret, stamp)
        response = self.client.post(f"/webhooks/generic/{store}", content=body, headers=headers)
        assert response.status_code == 200, response.text
        return response

    def cart(
        self,
        store: str,
        key: str,
        *,
        phone: str | None = ALICE_PHONE,
        email: str | None = ALICE_EMAIL,
        total: str = "200.00",
        first_name: str = "Alice",
        consent: dict[str, bool] | None = None,
        tags: Sequence[str] = (),
        orders_count: int | None = None,
        items: list[dict[str, Any]] | None = None,
        discount_codes: Sequence[str] = (),
        at: datetime | None = None,
    ) -> None:
        customer: dict[str, Any] = {
            "email": email,
            "phone": phone,
            "first_name": first_name,
            "consent": {"sms": True, "email": True} if consent is None else consent,
            "tags": list(tags),
        }
        if orders_count is not None:
            customer["orders_count"] = orders_count
        cart = {
            "id": key,
            "currency": "DKK",
            "total": total,
            "recovery_url": f"https://{store}.example/cart/{key}?restore=1",
            "items": items or [{"title": "Wool scarf", "quantity": 1, "price": total}],
            "discount_codes": list(discount_codes),
        }
        when = (at or self.clock.now()).isoformat()
        self.post(
            store,
            {"type": "cart.updated", "occurred_at": when, "cart": cart, "customer": customer},
        )

    def order(
        self,
        store: str,
        key: str,
        *,
        email: str | None = ALICE_EMAIL,
        phone: str | None = None,
        total: str = "200.00",
        cart_id: str | None = None,
        discount_total: str = "0",
        at: datetime | None = None,
    ) -> None:
        order: dict[str, Any] = {
            "id": key,
            "currency": "DKK",
            "total": total,
            "paid": True,
            "discount_total": discount_total,
        }
        if cart_id is not None:
            order["cart_id"] = cart_id
        when = (at or self.clock.now()).isoformat()
        customer = {"email": email, "phone": phone}
        self.post(
            store,
            {"type": "order.placed", "occurred_at": when, "order": order, "customer": customer},
        )

    def tick(self) -> int:
        return self.runtime.scheduler.tick()

    def advance(self, delta: timedelta) -> int:
        self.clock.advance(delta)
        return self.tick()

    def api(self, path: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        response = self.client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    def cart_id(self, store: str, key: str) -> int:
        [found] = [c for c in self.api("/api/carts", store=store) if c["cart_key"] == key]
        return int(found["id"])

    def detail(self, store: str, key: str) -> Any:
        return self.api(f"/api/carts/{self.cart_id(store, key)}")

    def decisions(self, store: str, key: str) -> list[dict[str, Any]]:
        timeline = self.detail(store, key)["timeline"]
        return [entry for entry in timeline if entry["kind"] == "decision"]

    def reasons(self, store: str, key: str) -> list[str]:
        return [entry["reason"] for entry in self.decisions(store, key)]

    def decision(self, store: str, key: str, reason: str) -> dict[str, Any]:
        [found] = [d for d in self.decisions(store, key) if d["reason"] == reason]
        return found

    def sent_to(self, address: str) -> list[str]:
        return [m.text for m in (*self.sms.sent, *self.email.sent) if m.to == address]


@contextmanager
def open_shop(
    db_url: str, tmp_path: Path, config: str, start: datetime = START
) -> Iterator[GenericShop]:
    runtime, clock, sms, email, path = build_runtime(db_url, tmp_path, config, start)
    try:
        with TestClient(create_app(runtime)) as client:
            yield GenericShop(runtime, client, clock, sms, email, path)
    finally:
        runtime.store.close()


SMS_ONLY = "- send: sms\n  template: 'Hi {{ first_name }}, your basket is saved: {{ link }}'\n"
TWO_STORES_SMS = flow_yaml("north-sms", "north", SMS_ONLY) + flow_yaml(
    "south-sms", "south", SMS_ONLY
)


# --- cooldown ---------------------------------------------------------------------------------


def test_a_message_from_one_store_blocks_another_stores_within_the_cooldown(
    db_url: str, tmp_path: Path
) -> None:
    with open_shop(db_url, tmp_path, config_yaml(TWO_STORES_SMS)) as shop:
        shop.cart("north", "n1")
        assert shop.advance(timedelta(minutes=30)) == 1
        assert len(shop.sms.sent) == 1

        shop.clock.advance(timedelta(minutes=30))
        shop.cart("south", "s1")
        shop.advance(timedelta(minutes=30))
        assert len(shop.sms.sent) == 1
        blocked = shop.decision("south", "s1", "cooldown")
        assert blocked["action"] == "skip" and blocked["flow_id"] == "south-sms"
        assert "inside the 3d cooldown" in blocked["detail"]

        # 72 hours after north's message, the same person's next south cart gets its reminder.
        shop.clock.set(START + timedelta(hours=72))
        shop.cart("south", "s2")
        shop.advance(timedelta(minutes=30))
        assert len(shop.sms.sent) == 2
        assert "cooldown" not in shop.reasons("south", "s2")
        assert shop.sms.sent[1].to == ALICE_PHONE


def test_the_steps_of_one_recovery_do_not_block_each_other(db_url: str, tmp_path: Path) -> None:
    steps = SMS_ONLY + "- wait: 24h\n- send: email\n"
    with open_shop(
        db_url, tmp_path, config_yaml(flow_yaml("sms-then-mail", "north", steps))
    ) as shop:
        shop.cart("north", "n1")
        shop.advance(timedelta(minutes=30))
        shop.advance(timedelta(hours=24))

        assert [m.to for m in shop.sms.sent] == [ALICE_PHONE]
        assert [m.to for m in shop.email.sent] == [ALICE_EMAIL]
        assert "cooldown" not in shop.reasons("north", "n1")
        assert shop.detail("north", "n1")["run"]["status"] == "done"


def test_each_channel_keeps_its_own_cooldown(db_url: str, tmp_path: Path) -> None:
    policy = "quiet_hours: null\ncooldown: 72h\ncooldowns: {sms: 24h, email: 7d}\n"
    steps = SMS_ONLY + "- send: email\n"
    config = config_yaml(flow_yaml("both", "north", steps), policy=policy)
    with open_shop(db_url, tmp_path, config) as shop:
        now = shop.clock.now()
        touches = [
            {"phone": ALICE_PHONE, "channel": "sms", "sent_at": _iso(now - timedelta(hours=30))},
            {"email": ALICE_EMAIL, "channel": "email", "sent_at": _iso(now - timedelta(days=5))},
        ]
        assert _post_touches(shop, touches).json() == {"received": 2, "added": 2}
        shop.cart("north", "n1")
        shop.advance(timedelta(minutes=30))

        assert [m.to for m in shop.sms.sent] == [ALICE_PHONE]  # 30h > the 24h SMS cooldown
        assert shop.email.sent == []  # 5 days < the 7 day email cooldown
        blocked = shop.decision("north", "n1", "cooldown")
        assert blocked["step_index"] == 1 and "inside the 7d cooldown" in blocked["detail"]


def test_touches_registered_through_the_api_block_within_the_cooldown(
    db_url: str, tmp_path: Path
) -> None:
    with open_shop(db_url, tmp_path, config_yaml(TWO_STORES_SMS)) as shop:
        now = shop.clock.now()
        touches = [
            # written as a national number: the first store's default country (DK) applies
            {"phone": "20 12 34 56", "channel": "sms", "sent_at": _iso(now - timedelta(days=1))},
            {"phone": BOB_PHONE, "channel": "sms", "sent_at": _iso(now - timedelta(days=4))},
        ]
        assert _post_touches(shop, touches).json() == {"received": 2, "added": 2}
        assert _post_touches(shop, touches).json() == {"received": 2, "added": 0}

        shop.cart("north", "alice")
        shop.cart("north", "bob", phone=BOB_PHONE, email=BOB_EMAIL, first_name="Bob")
        shop.advance(timedelta(minutes=30))

        assert [m.to for m in shop.sms.sent] == [BOB_PHONE]
        assert "cooldown" in shop.reasons("north", "alice")


def test_touches_imported_with_the_cli_block_within_the_cooldown(
    db_url: str, tmp_path: Path
) -> None:
    with open_shop(db_url, tmp_path, config_yaml(TWO_STORES_SMS)) as shop:
        sent_at = _iso(shop.clock.now() - timedelta(hours=12))
        csv = tmp_path / "touches.csv"
        csv.write_text(
            "phone,email,channel,sent_at,source\n"
            f"+45 20 12 34 56,,sms,{sent_at},klaviyo-black-friday\n"
            f",{ALICE_EMAIL},email,{sent_at},newsletter\n"
        )
        env = {k: v for k, v in os.environ.items() if k != "CARTBACK_DATABASE_URL"}
        command = [sys.executable, "-m", "cartback.cli", "touches", "import"]
        done = subprocess.run(
            [*command, "--config", str(shop.config_path), str(csv)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "2 touches read, 2 new, 0 already known" in done.stdout

        shop.cart("north", "n1")
        shop.advance(timedelta(minutes=30))
        assert shop.sms.sent == []
        assert "cooldown" in shop.reasons("north", "n1")


# --- purchases, frequency, deadline, newest cart ----------------------------------------------


def test_an_order_by_the_same_email_in_another_store_yesterday_stops_the_reminder(
    db_url: str, tmp_path: Path
) -> None:
    with open_shop(db_url, tmp_path, config_yaml(TWO_STORES_SMS)) as shop:
        now = shop.clock.now()
        shop.order("south", "o-alice", email="Alice@Example.com", at=now - timedelta(hours=20))
        shop.order("south", "o-bob", email=BOB_EMAIL, at=now - timedelta(hours=25))
        shop.cart("north", "alice")
        shop.cart("north", "bob", phone=BOB_PHONE, email=BOB_EMAIL, first_name="Bob")
        shop.advance(timedelta(minutes=30))

        assert [m.to for m in shop.sms.sent] == [BOB_PHONE]  # Bob's order is older than 24h
        skipped = shop.decision("north", "alice", "recent_purchase")
        assert skipped["action"] == "skip"
        assert "within 24h" in skipped["detail"]


def test_at_most_one_sms_per_abandonment(db_url: str, tmp_path: Path) -> None:
    steps = SMS_ONLY + "- wait: 1h\n" + SMS_ONLY
    with open_shop(db_url, tmp_path, config_yaml(flow_yaml("twice", "north", steps))) as shop:
        shop.cart("north", "n1")
        shop.advance(timedelta(minutes=30))
        shop.advance(timedelta(hours=1))

        assert len(shop.sms.sent) == 1
        second = shop.decision("north", "n1", "frequency")
        assert second["step_index"] == 2
        assert "1 SMS already went out for this abandonment (at most 1)" in second["detail"]


def test_no_sms_later_than_the_deadline_after_abandonment(db_url: str, tmp_path: Path) -> None:
    steps = "- wait: 49h\n" + SMS_ONLY
    with open_shop(db_url, tmp_path, config_yaml(flow_yaml("late", "north", steps))) as shop:
        shop.cart("north", "n1")
        shop.advance(timedelta(minutes=30))
        shop.advance(timedelta(hours=49))

        assert shop.sms.sent == []
        late = shop.decision("north", "n1", "sms_deadline")
        assert "More than 2d have passed since the cart was abandoned" in late["detail"]


def test_a_person_with_two_open_carts_gets_one_reminder_for_the_newest(
    db_url: str, tmp_path: Path
) -> None:
    with open_shop(db_url, tmp_path, config_yaml(TWO_STORES_SMS)) as shop:
        shop.cart("north", "older", total="120.00")
        shop.clock.advance(timedelta(minutes=10))
        shop.cart("north", "newer", total="340.00")
        shop.advance(timedelta(minutes=20))
        shop.advance(timedelta(minutes=10))
        shop.advance(timedelta(hours=1))

        [sms] = shop.sms.sent
        older = shop.detail("north", "older")
        assert older["messages"] == [] and older["run"]["status"] == "cancelled"
        assert shop.decision("north", "older", "newer_cart")["action"] == "cancel"
        [message] = shop.detail("north", "newer")["messages"]
        assert message["id"] == sms.id


# --- consent modes ----------------------------------------------------------------------------


def test_soft_opt_in_emails_past_buyers_without_consent_but_strict_does_not(
    db_url: str, tmp_path: Path
) -> None:
    stores = store_yaml("soft", consent_mode="soft_opt_in") + store_yaml("strict")
    mail = "- send: email\n"
    flows = flow_yaml("soft-mail", "soft", mail) + flow_yaml("strict-mail", "strict", mail)
    with open_shop(db_url, tmp_path, config_yaml(flows, stores=stores)) as shop:
        shop.order("soft", "earlier", email="dora@example.com", at=START - timedelta(days=30))
        no_consent: dict[str, bool] = {}
        people = {
            "buyer": ("soft", "buyer@example.com", 3),
            "newcomer": ("soft", "new@example.com", 0),
            "dora": ("soft", "dora@example.com", None),  # bought here before, per our orders
            "strict-buyer": ("strict", "strict@example.com", 3),
        }
        for key, (store, email, orders) in people.items():
            shop.cart(store, key, phone=None, email=email, consent=no_consent, orders_count=orders)
        shop.advance(timedelta(minutes=30))

        assert sorted(m.to for m in shop.email.sent) == ["buyer@example.com", "dora@example.com"]
        assert "no_consent" in shop.reasons("soft", "newcomer")
        assert "no_consent" in shop.reasons("strict", "strict-buyer")


# --- sending windows --------------------------------------------------------------------------


def test_us_numbers_wait_for_the_states_sending_window_or_the_stores_own(
    db_url: str, tmp_path: Path
) -> None:
    assert normalize_phone(MIAMI, None) == MIAMI and normalize_phone(MIAMI_2, None) == MIAMI_2
    weekdays = "{start: '10:00', end: '18:00', days: [mon, tue, wed, thu, fri]}"
    us = {"timezone": "America/New_York", "default_country": "US", "currency": "USD"}
    stores = store_yaml("us", **us) + store_yaml(
        "custom", **us, sending_windows="{US: " + weekdays + "}"
    )
    flows = flow_yaml("us-sms", "us", SMS_ONLY) + flow_yaml("custom-sms", "custom", SMS_ONLY)
    friday_8pm_miami = datetime.fromisoformat("2026-12-05T01:00:00+00:00")  # Fri 20:00 EST
    # A store that texts on weekdays only gives SMS more than the default 48h after abandonment.
    policy = NO_QUIET_HOURS + "sms_deadline: 4d\n"
    config = config_yaml(flows, stores=stores, policy=policy)
    with open_shop(db_url, tmp_path, config, friday_8pm_miami) as shop:
        shop.cart("us", "fl", phone=MIAMI, email=None)
        shop.cart("custom", "fl", phone=MIAMI_2, email=None)
        shop.advance(timedelta(minutes=30))  # 20:30 in Miami: after Florida's 8 p.m.
        assert shop.sms.sent == []

        legal = shop.decision("us", "fl", "quiet_hours")
        assert legal["action"] == "defer"
        assert _at(legal["until"]) == datetime.fromisoformat("2026-12-05T13:00:00+00:00")
        assert "America/New_York" in legal["detail"] and "08:00-20:00" in legal["detail"]
        own = shop.decision("custom", "fl", "quiet_hours")
        assert _at(own["until"]) == datetime.fromisoformat("2026-12-07T15:00:00+00:00")  # Mon 10

        shop.clock.set(datetime.fromisoformat("2026-12-05T12:59:00+00:00"))
        assert shop.tick() == 0
        assert shop.advance(timedelta(minutes=1)) == 1
        assert [m.to for m in shop.sms.sent] == [MIAMI]

        shop.clock.set(datetime.fromisoformat("2026-12-07T15:00:00+00:00"))
        assert shop.tick() == 1
        assert [m.to for m in shop.sms.sent] == [MIAMI, MIAMI_2]


# --- the report -------------------------------------------------------------------------------


def test_the_report_counts_skipped_steps_by_reason(db_url: str, tmp_path: Path) -> None:
    with open_shop(db_url, tmp_path, config_yaml(TWO_STORES_SMS)) as shop:
        shop.cart("north", "alice-1")
        shop.cart("north", "bob", phone=BOB_PHONE, email=BOB_EMAIL, consent={"sms": False})
        shop.clock.advance(timedelta(minutes=5))
        shop.cart("north", "alice-2")
        shop.advance(timedelta(minutes=40))  # alice-1: newer_cart, bob: no_consent, alice-2 sent
        shop.cart("south", "alice-3")
        shop.advance(timedelta(minutes=30))  # cooldown

        assert len(shop.sms.sent) == 1
        north = shop.api("/api/report", store="north")
        assert north["skipped"] == {"newer_cart": 1, "no_consent": 1}
        assert shop.api("/api/report", store="south")["skipped"] == {"cooldown": 1}
        overall = shop.api("/api/report")
        assert overall["skipped"] == {"newer_cart": 1, "no_consent": 1, "cooldown": 1}
        assert overall["messages_sent"] == 1


# --- two workers ------------------------------------------------------------------------------

RACE_STORES = ("north", "south", "east", "west")


def test_two_workers_racing_to_message_the_same_person_send_once(
    db_url: str, tmp_path: Path
) -> None:
    stores = "".join(store_yaml(s) for s in RACE_STORES)
    flows = "".join(flow_yaml(f"{s}-sms", s, SMS_ONLY) for s in RACE_STORES)
    config = config_yaml(flows, stores=stores)
    with open_shop(db_url, tmp_path / "api", config) as shop:
        for store in RACE_STORES:
            shop.cart(store, f"{store}-1")
            shop.cart(store, f"{store}-2", phone=BOB_PHONE, email=BOB_EMAIL, first_name="Bob")

    workers = []
    for name in ("a", "b"):
        runtime, clock, sms, _email, _config = build_runtime(db_url, tmp_path / name, config)
        runtime.scheduler.settings = SchedulerSettings(1, timedelta(minutes=5))
        clock.set(START + timedelta(minutes=31))
        workers.append((runtime, sms))
    barrier = threading.Barrier(len(workers))

    def work(runtime: Runtime) -> None:
        barrier.wait()
        while runtime.scheduler.tick():
            pass

    threads = [threading.Thread(target=work, args=(runtime,)) for runtime, _ in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        recipients = sorted(m.to for _, sms in workers for m in sms.sent)
        assert recipients == sorted([ALICE_PHONE, BOB_PHONE])
        runtime = workers[0][0]
        with TestClient(create_app(runtime)) as client:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            report = client.get("/api/report", headers=headers).json()
        assert report["messages_sent"] == 2
        assert report["skipped"] == {"cooldown": 2 * (len(RACE_STORES) - 1)}
    finally:
        for runtime, _ in workers:
            runtime.store.close()


# --- helpers ----------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _post_touches(shop: GenericShop, touches: list[dict[str, Any]]) -> Any:
    body = {"touches": [{"source": "klaviyo", **touch} for touch in touches]}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    response = shop.client.post("/api/touches", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response
