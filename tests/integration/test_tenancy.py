"""Several shops in one cartback: per-store tokens see only their store, per-store channels send
with their own settings, and a reloaded config takes effect without a restart."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from cartback.api.app import create_app
from cartback.channels.twilio import INTERNATIONAL_MPS, TWILIO_CONCURRENCY, TwilioGateway
from cartback.cli.summary import Summary
from cartback.config import load_config
from cartback.domain.events import Channel
from cartback.engine.pacing import Limits
from cartback.integrations import shopify
from cartback.reload import Reloader, reload
from cartback.startup import channel_findings
from tests.fakes.twilio import FakeTwilio
from tests.integration.conftest import (
    CONFIG,
    DOMAIN,
    SECRET,
    TOKEN,
    Shop,
    checkout_payload,
    make_runtime,
)

BETA_DOMAIN = "beta.myshopify.com"
BETA_PHONE = "+4520999999"
ACME_TOKEN, BETA_TOKEN = "acme-store-token", "beta-store-token"

BETA = """
  - id: beta
    platform: shopify
    shop_domain: beta.myshopify.com
    webhook_secret: {secret}
    name: Beta
    timezone: Europe/Copenhagen
    default_country: DK
    currency: DKK
    api_token: beta-store-token
    channels:
      sms: {beta_sms}
"""
BETA_FLOW = """
  - id: beta-sms
    store: beta
    abandon_after: 30m
    steps:
      - send: sms
        template: "Beta: {{{{ link }}}}"
"""
# The one-store config of the other tests, with acme's token, and beta after acme.
TWO_STORES = (
    CONFIG.replace(
        "    currency: USD\n", "    currency: USD\n    api_token: acme-store-token" + BETA, 1
    )
    + BETA_FLOW
)
SHARED_ACCOUNT = "{sender: BetaShop, cost_per_segment: 0.5}"


def tenants_runtime(db_url: str, tmp_path: Path, beta_sms: str = SHARED_ACCOUNT) -> Any:
    return make_runtime(db_url, tmp_path, TWO_STORES, beta_sms=beta_sms)


@pytest.fixture
def agency(db_url: str, tmp_path: Path) -> Iterator[Shop]:
    runtime, clock, gateway = tenants_runtime(db_url, tmp_path)
    with TestClient(create_app(runtime)) as client:
        yield Shop(runtime, client, clock, gateway)
    runtime.store.close()


def post_checkout(shop: Shop, domain: str, **changes: Any) -> dict[str, Any]:
    payload = checkout_payload(shop.clock.now(), token=uuid.uuid4().hex, **changes)
    body = json.dumps(payload).encode()
    headers = {
        shopify.TOPIC_HEADER: "checkouts/update",
        shopify.SHOP_DOMAIN_HEADER: domain,
        shopify.HMAC_HEADER: shopify.sign(body, SECRET),
        shopify.WEBHOOK_ID_HEADER: uuid.uuid4().hex,
        "Content-Type": "application/json",
    }
    answer = shop.client.post("/webhooks/shopify", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    return payload


def get(shop: Shop, token: str, path: str, **params: Any) -> Any:
    return shop.client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


def two_sent_carts(shop: Shop) -> dict[str, int]:
    post_checkout(shop, DOMAIN)
    post_checkout(shop, BETA_DOMAIN, sms_marketing_phone=BETA_PHONE)
    shop.advance(timedelta(minutes=31))
    carts = get(shop, TOKEN, "/api/carts").json()
    return {cart["store_id"]: cart["id"] for cart in carts}


def test_a_store_token_reads_only_its_store(agency: Shop) -> None:
    ids = two_sent_carts(agency)
    assert set(ids) == {"acme", "beta"}

    # carts
    carts = get(agency, BETA_TOKEN, "/api/carts").json()
    assert [c["store_id"] for c in carts] == ["beta"]
    assert get(agency, BETA_TOKEN, "/api/carts", store="beta").status_code == 200
    assert get(agency, BETA_TOKEN, f"/api/carts/{ids['beta']}").status_code == 200
    other = get(agency, BETA_TOKEN, f"/api/carts/{ids['acme']}")
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    assert get(agency, BETA_TOKEN, "/api/carts", store="acme").status_code == 404
    # messages
    messages = get(agency, BETA_TOKEN, "/api/messages").json()
    assert [m["store_id"] for m in messages] == ["beta"]
    assert get(agency, BETA_TOKEN, "/api/messages", store="acme").status_code == 404
    assert len(get(agency, TOKEN, "/api/messages").json()) == 2  # the admin sees both
    # report
    report = get(agency, BETA_TOKEN, "/api/report").json()
    assert report["messages_sent"] == 1 and report["currency"] == "DKK"
    assert get(agency, BETA_TOKEN, "/api/report", store="acme").status_code == 404
    assert get(agency, ACME_TOKEN, "/api/report").json()["currency"] == "USD"
    # deliveries
    deliveries = get(agency, BETA_TOKEN, "/api/deliveries").json()
    assert {d["store_id"] for d in deliveries} == {"beta"}
    assert get(agency, BETA_TOKEN, "/api/deliveries", store="acme").status_code == 404
    # contacts: a person the store dealt with, and one it did not
    assert get(agency, BETA_TOKEN, f"/api/contacts/{BETA_PHONE}").status_code == 200
    acme_person = get(agency, BETA_TOKEN, "/api/contacts/+4520123456")
    assert acme_person.status_code == 404
    assert get(agency, TOKEN, "/api/contacts/+4520123456").status_code == 200
    # the metrics are every store's: the admin's only
    assert get(agency, BETA_TOKEN, "/metrics").status_code == 401
    assert get(agency, TOKEN, "/metrics").status_code == 200


def test_a_store_token_changes_only_its_store(agency: Shop) -> None:
    consent = {"channel": "sms", "granted": True, "phone": "+4520555555", "wording": "Yes"}
    headers = {"Authorization": f"Bearer {BETA_TOKEN}"}
    mine = agency.client.post("/api/consent", json={**consent, "store": "beta"}, headers=headers)
    assert mine.status_code == 200, mine.text
    theirs = agency.client.post("/api/consent", json={**consent, "store": "acme"}, headers=headers)
    assert theirs.status_code == 404
    assert theirs.json()["error"]["code"] == "not_found"
    history = get(agency, TOKEN, "/api/contacts/+4520555555").json()["history"]
    assert [entry["store_id"] for entry in history] == ["beta"]

    touch = {"phone": "20 55 55 55", "channel": "sms", "sent_at": "2026-11-30T09:00:00Z"}
    sent = agency.client.post(
        "/api/touches", json={"touches": [{**touch, "source": "newsletter"}]}, headers=headers
    )
    assert sent.status_code == 200 and sent.json()["added"] == 1  # read in beta's country


def test_wrong_tokens_and_a_shared_token_are_refused(db_url: str, tmp_path: Path) -> None:
    runtime, _clock, _gateway = tenants_runtime(db_url, tmp_path)
    with TestClient(create_app(runtime)) as client:
        wrong = client.get("/api/carts", headers={"Authorization": "Bearer beta-store-tokenX"})
        assert wrong.status_code == 401
    runtime.store.close()
    clash = TWO_STORES.replace("api_token: beta-store-token", "api_token: acme-store-token")
    with pytest.raises(Exception, match=r"stores\[1\]\.api_token.*stores\[0\]"):
        make_runtime(db_url, tmp_path, clash, beta_sms=SHARED_ACCOUNT)


def test_a_store_sends_with_its_own_sender_and_cost(agency: Shop) -> None:
    two_sent_carts(agency)
    sent = {m.sender: m for m in agency.sms.sent}
    assert set(sent) == {"Acme", "BetaShop"}  # one shared account, each store's sender
    messages = {m["store_id"]: m for m in get(agency, TOKEN, "/api/messages").json()}
    assert messages["beta"]["cost"] == "0.50"
    assert messages["acme"]["cost"] == "0.30"


def test_a_store_with_its_own_provider_sends_through_it(db_url: str, tmp_path: Path) -> None:
    outbox = tmp_path / "beta-outbox.jsonl"
    own = f"{{provider: outbox, path: '{outbox}', sender: BetaOwn}}"
    runtime, clock, gateway = tenants_runtime(db_url, tmp_path, own)
    with TestClient(create_app(runtime)) as client:
        shop = Shop(runtime, client, clock, gateway)
        two_sent_carts(shop)
    runtime.store.close()
    assert [m.sender for m in gateway.sent] == ["Acme"]  # the global gateway: acme only
    [line] = [json.loads(text) for text in outbox.read_text().splitlines()]
    assert (line["from"], line["to"]) == ("BetaOwn", BETA_PHONE)


def test_a_reloaded_config_changes_tokens_and_keeps_the_old_one_when_bad(
    agency: Shop, tmp_path: Path
) -> None:
    path = tmp_path / "cartback.yaml"
    good = path.read_text()
    assert get(agency, BETA_TOKEN, "/api/carts").status_code == 200

    path.write_text(good.replace("beta-store-token", "beta-rotated"))
    breaker, metrics = agency.runtime.scheduler.sender.dispatcher.breaker, agency.runtime.metrics
    assert reload(agency.runtime, path)
    assert agency.runtime.scheduler.sender.dispatcher.breaker is breaker  # a rest goes on
    assert agency.runtime.metrics is metrics  # and so do the counts
    assert get(agency, BETA_TOKEN, "/api/carts").status_code == 401
    assert get(agency, "beta-rotated", "/api/carts").status_code == 200

    path.write_text(good.replace("abandon_after: 30m", "abandon_after: 30x"))
    stream = io.StringIO()
    logger = logging.getLogger("cartback")
    logger.addHandler(handler := logging.StreamHandler(stream))
    try:
        assert not reload(agency.runtime, path)
    finally:
        logger.removeHandler(handler)
    [line] = stream.getvalue().splitlines()
    assert line.startswith("config not reloaded, the running one stays: ")
    assert "abandon_after: '30x' is not a duration" in line
    assert get(agency, "beta-rotated", "/api/carts").status_code == 200  # the old config stays


def test_a_reload_leaves_the_database_settings_to_a_restart(agency: Shop, tmp_path: Path) -> None:
    path = tmp_path / "cartback.yaml"
    path.write_text(path.read_text().replace("public_url:", "database_lanes: 9\npublic_url:", 1))
    lanes = agency.runtime.settings.database_lanes
    stream = io.StringIO()
    logger = logging.getLogger("cartback")
    logger.addHandler(handler := logging.StreamHandler(stream))
    try:
        assert reload(agency.runtime, path)
    finally:
        logger.removeHandler(handler)
    assert "database_lanes changed: it takes effect at the next restart" in stream.getvalue()
    assert agency.runtime.settings.database_lanes == lanes != 9


def test_sighup_reloads_and_the_worker_uses_the_new_flows(agency: Shop, tmp_path: Path) -> None:
    path = tmp_path / "cartback.yaml"
    path.write_text(path.read_text().replace('"Beta: {{ link }}"', '"Beta again: {{ link }}"'))
    reloader = Reloader(agency.runtime, path)
    before = signal.getsignal(signal.SIGHUP)
    try:
        reloader.install()
        os.kill(os.getpid(), signal.SIGHUP)
        assert reloader.done.wait(10)
    finally:
        signal.signal(signal.SIGHUP, before)
    post_checkout(agency, BETA_DOMAIN, sms_marketing_phone=BETA_PHONE)
    agency.clock.advance(timedelta(minutes=31))
    assert agency.runtime.worker.run_once() == 1  # the worker object the thread holds
    [text] = agency.sms.texts()
    assert text.startswith("Beta again: ")


def test_a_stores_own_twilio_account_sends_and_its_callbacks_are_verified(
    db_url: str, tmp_path: Path
) -> None:
    fake = FakeTwilio()
    own = (
        f"{{provider: twilio, account_sid: {fake.account_sid}, auth_token: {fake.auth_token},"
        " sender: '+4512345678'}"
    )
    runtime, clock, gateway = make_runtime(
        db_url,
        tmp_path,
        TWO_STORES,
        transport=httpx.MockTransport(fake.handle),
        beta_sms=own,
    )
    with TestClient(create_app(runtime)) as client:
        shop = Shop(runtime, client, clock, gateway)
        post_checkout(shop, BETA_DOMAIN, sms_marketing_phone=BETA_PHONE)
        shop.advance(timedelta(minutes=31))
        [(sid, form)] = fake.forms.items()
        assert (form["From"], form["To"]) == ("+4512345678", BETA_PHONE)

        url = "https://cb.example/webhooks/twilio/status"
        callback = fake.status_callback(sid, "delivered")
        refused = client.post(url, data=callback, headers={"X-Twilio-Signature": "forged"})
        assert refused.status_code == 401
        signed = {"X-Twilio-Signature": fake.sign(url, callback)}
        assert client.post(url, data=callback, headers=signed).status_code == 204
        [message] = get(shop, BETA_TOKEN, "/api/messages").json()
        assert message["status"] == "delivered"
    runtime.store.close()


def test_check_and_the_summary_name_a_stores_own_channel(tmp_path: Path) -> None:
    bad = "{provider: twilio, account_sid: AC1, auth_token: t0k, sender: Beta}"
    path = tmp_path / "cartback.yaml"
    path.write_text(
        TWO_STORES.format(
            db_url="sqlite:///x.db", token=TOKEN, domain=DOMAIN, secret=SECRET, beta_sms=bad
        )
    )
    settings = load_config(path, environ={})
    [finding] = channel_findings(settings, strict_dns=False)
    assert finding.level == "error"
    assert finding.text.startswith("stores[1].channels.sms.sender 'Beta': twilio sends from")
    lines = "\n".join(Summary(settings, database="(test)").lines())
    assert "sms: outbox → unused.jsonl, sender Acme" in lines
    assert "sms (store beta): twilio, sender Beta" in lines


def test_a_store_token_exports_and_erases_only_in_its_store(agency: Shop) -> None:
    two_sent_carts(agency)
    headers = {"Authorization": f"Bearer {BETA_TOKEN}"}
    acme_person = "/api/contacts/%2B4520123456"
    theirs = agency.client.get(f"{acme_person}/export", headers=headers).json()
    assert theirs["subject"]["store"] == "beta"
    assert theirs["carts"] == [] and theirs["messages"] == [] and theirs["deliveries"] == []
    assert agency.client.get(f"{acme_person}/export?store=acme", headers=headers).status_code == 404
    mine = agency.client.get("/api/contacts/%2B4520999999/export", headers=headers).json()
    assert [c["store_id"] for c in mine["carts"]] == ["beta"]
    assert [m["store_id"] for m in mine["messages"]] == ["beta"]

    erased = agency.client.delete(acme_person, headers=headers)
    assert erased.status_code == 200
    acme = get(agency, TOKEN, f"{acme_person}/export").json()
    [kept] = [m for m in acme["messages"] if m["store_id"] == "acme"]
    assert kept["recipient"] == "+4520123456"  # acme's person is still there
    assert "acme" in {c["store_id"] for c in acme["carts"]}


def test_a_store_token_diagnoses_only_its_store(agency: Shop) -> None:
    two_sent_carts(agency)
    assert get(agency, BETA_TOKEN, "/api/diagnostics", store="beta").status_code == 200
    other = get(agency, BETA_TOKEN, "/api/diagnostics", store="acme")
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    by_flow = get(agency, BETA_TOKEN, "/api/report", by="flow").json()
    assert [row["key"] for row in by_flow["rows"]] == ["beta-sms"]


GAMMA = f"""  - id: gamma
    platform: shopify
    shop_domain: gamma.myshopify.com
    webhook_secret: {SECRET}
    name: Gamma
    default_country: DK
"""


def test_a_store_added_by_a_reload_takes_webhooks_at_once(agency: Shop, tmp_path: Path) -> None:
    path = tmp_path / "cartback.yaml"
    # A shop the running config does not know yet is refused.
    payload = checkout_payload(agency.clock.now(), token="gamma-1")
    body = json.dumps(payload).encode()
    headers = {
        shopify.TOPIC_HEADER: "checkouts/update",
        shopify.SHOP_DOMAIN_HEADER: "gamma.myshopify.com",
        shopify.HMAC_HEADER: shopify.sign(body, SECRET),
        shopify.WEBHOOK_ID_HEADER: uuid.uuid4().hex,
        "Content-Type": "application/json",
    }
    assert agency.client.post("/webhooks/shopify", content=body, headers=headers).status_code == 404
    path.write_text(
        path.read_text().replace("channels:\n  sms:\n", GAMMA + "channels:\n  sms:\n", 1)
    )
    assert reload(agency.runtime, path)
    post_checkout(agency, "gamma.myshopify.com", sms_marketing_phone="+4520777777")
    carts = get(agency, TOKEN, "/api/carts", store="gamma").json()
    assert [cart["store_id"] for cart in carts] == ["gamma"]


def test_a_provider_only_a_store_uses_gets_its_documented_pace(db_url: str, tmp_path: Path) -> None:
    own = "{provider: twilio, account_sid: AC1, auth_token: t0k, sender: '+4512345678'}"
    transport = httpx.MockTransport(lambda request: httpx.Response(500))
    runtime, _clock, _gateway = make_runtime(
        db_url, tmp_path, TWO_STORES, transport=transport, beta_sms=own
    )
    pacing = runtime.scheduler.sender.dispatcher.pacing
    [twilio] = [g for g in runtime.gateways.more if isinstance(g, TwilioGateway)]
    outbox = runtime.gateways.by_channel[Channel.SMS]
    assert pacing.of(twilio).limits == Limits(TWILIO_CONCURRENCY, INTERNATIONAL_MPS, True)
    assert pacing.of(outbox).limits == Limits(), "the global outbox: no rate"
    runtime.store.close()


def test_two_accounts_at_one_provider_are_paced_apart(db_url: str, tmp_path: Path) -> None:
    """Each Twilio account has its own limits: one store's calls in flight or a 429 on its
    account do not hold back another store's account."""
    own = "{provider: twilio, account_sid: AC1, auth_token: t0k, sender: '+4512345678'}"
    global_twilio = "    provider: twilio\n    account_sid: AC2\n    auth_token: t1k\n"
    config = TWO_STORES.replace(
        "    provider: outbox\n    path: unused.jsonl\n", global_twilio, 1
    ).replace("    sender: Acme\n", "    sender: '+4587654321'\n", 1)
    transport = httpx.MockTransport(lambda request: httpx.Response(500))
    runtime, _clock, _gateway = make_runtime(
        db_url, tmp_path, config, transport=transport, beta_sms=own
    )
    pacing = runtime.scheduler.sender.dispatcher.pacing
    acme = runtime.gateways.by_channel[Channel.SMS]
    [beta] = [g for g in runtime.gateways.more if isinstance(g, TwilioGateway)]
    assert isinstance(acme, TwilioGateway) and acme is not beta
    assert pacing.of(acme) is not pacing.of(beta)
    assert pacing.of(acme).limits == pacing.of(beta).limits
    assert pacing.of(acme).limits.concurrency == TWILIO_CONCURRENCY
    runtime.store.close()


def test_a_reload_lets_go_of_the_replaced_gateways_and_send_threads(
    db_url: str, tmp_path: Path
) -> None:
    """Each reload builds the stores' own gateways anew: the replaced ones are closed once
    nothing uses them, and the replaced scheduler's send threads end; a gateway the new config
    goes on with (here the one the test gave for every store's SMS) stays open."""
    fake = FakeTwilio()
    own = (
        f"{{provider: twilio, account_sid: {fake.account_sid}, auth_token: {fake.auth_token},"
        " sender: '+4512345678'}"
    )
    threaded = TWO_STORES.replace("policy:\n", "worker:\n  concurrency: 4\npolicy:\n", 1)
    runtime, clock, shared = make_runtime(db_url, tmp_path, threaded, beta_sms=own)
    closed: list[object] = []
    shared.close = lambda: closed.append(shared)  # type: ignore[attr-defined]
    path = tmp_path / "cartback.yaml"
    threads_before = _send_threads()
    with TestClient(create_app(runtime)) as client:
        shop = Shop(runtime, client, clock, shared)
        for n in range(3):
            [old_twilio] = [g for g in runtime.gateways.more if isinstance(g, TwilioGateway)]
            post_checkout(shop, DOMAIN, sms_marketing_phone=f"+452012000{n}")
            clock.advance(timedelta(minutes=31))
            assert runtime.scheduler.tick() == 1  # on the scheduler's send threads
            assert _send_threads() > threads_before
            retired = threading.Event()
            assert reload(runtime, path, retired)
            assert retired.wait(10)
            assert _send_threads() == threads_before  # the new one has started none yet
            [new_twilio] = [g for g in runtime.gateways.more if isinstance(g, TwilioGateway)]
            assert old_twilio._client.is_closed and not new_twilio._client.is_closed
    assert closed == []  # the shared gateway was never closed
    runtime.close()
    runtime.store.close()


def _send_threads() -> int:
    return sum(thread.name.startswith("cartback-send") for thread in threading.enumerate())
