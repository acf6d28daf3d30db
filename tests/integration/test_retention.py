"""Retention on both databases: personal data past its age goes, the report stays the same."""

from __future__ import annotations

from argparse import Namespace
from datetime import timedelta
from pathlib import Path

import pytest

from cartback.cli import build_parser, load_settings
from cartback.cli.upkeep import purge_command
from cartback.engine.retention import Retention, purge
from cartback.store.upkeep import Purged
from tests.integration.conftest import CONFIG, Shop, make_runtime

RETENTION = Retention(timedelta(days=30), timedelta(days=90), timedelta(days=180))


def recovered_and_lost_carts(shop: Shop) -> None:
    """Two carts messaged: one clicked and bought, one not; and a third that bought at once."""
    first = shop.checkout(token="first")
    shop.checkout(token="second", sms_marketing_phone="+4520999999")
    shop.advance(timedelta(minutes=31))
    code = shop.sms.sent[0].text.rsplit("/r/", 1)[1]
    clicked = shop.client.get(f"/r/{code}", follow_redirects=False, headers={"User-Agent": "Ua/1"})
    assert clicked.status_code == 302
    shop.clock.advance(timedelta(hours=1))
    shop.order(first)
    bought = shop.checkout(token="third", sms_marketing_phone="+4520888888")
    shop.order(bought)


def test_the_report_is_the_same_after_a_purge(shop: Shop) -> None:
    recovered_and_lost_carts(shop)
    since = (shop.clock.now() - timedelta(days=1)).isoformat()
    shop.clock.advance(timedelta(days=200))
    before = shop.api("/api/report")
    before_since = shop.api("/api/report", since=since)
    assert before["orders_recovered"] == 1 and before["messages_sent"] == 2

    counted = purge(shop.runtime.store, shop.clock, RETENTION, dry_run=True)
    done = purge(shop.runtime.store, shop.clock, RETENTION)
    assert done == counted == Purged(raw_deliveries=5, message_texts=2, clicks=1)

    assert shop.api("/api/report") == before
    assert shop.api("/api/report", since=since) == before_since
    messages = shop.api("/api/messages")
    assert {(m["status"], m["cost"]) for m in messages} == {("sent", "0.30")}
    assert shop.api("/api/deliveries") == []
    story = shop.cart(1)
    assert story["status"] == "purchased"
    assert [e["kind"] for e in story["timeline"]].count("click") == 1  # the click stays
    assert purge(shop.runtime.store, shop.clock, RETENTION) == Purged()


def test_nothing_goes_before_its_time(shop: Shop) -> None:
    recovered_and_lost_carts(shop)
    shop.clock.advance(timedelta(days=29))
    assert purge(shop.runtime.store, shop.clock, RETENTION) == Purged()
    shop.clock.advance(timedelta(days=2))
    assert purge(shop.runtime.store, shop.clock, RETENTION) == Purged(raw_deliveries=5)


def test_the_worker_purges_daily(db_url: str, tmp_path: Path) -> None:
    config = CONFIG + "retention: {{raw_deliveries: 1d}}\n"
    runtime, _clock, _sms = make_runtime(db_url, tmp_path, config)
    [job] = [job for job in runtime.worker.jobs if job.name == "retention:purge"]
    assert job.every == timedelta(days=1)
    assert job.run() == 0
    runtime.store.close()


def cartback_purge(path: Path, *, dry_run: bool) -> int:
    """The command as `cartback purge` runs it, without main()'s logging setup."""
    settings = load_settings(str(path), needs_secrets=False)
    return purge_command(settings, Namespace(config=str(path), dry_run=dry_run))


def test_cartback_purge(shop: Shop, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["purge", "--config", "x.yaml", "--dry-run"])
    assert args.func is purge_command and args.dry_run
    recovered_and_lost_carts(shop)  # on the test clock, days before the machine's
    path = tmp_path / "cartback.yaml"
    path.write_text(path.read_text() + "retention: {raw_deliveries: 1d, message_texts: 1d}\n")

    assert cartback_purge(path, dry_run=True) == 0
    assert capsys.readouterr().out.splitlines() == [
        "raw deliveries older than 1d: 5 would be deleted",
        "message texts older than 1d: 2 would be erased",
        "click details: kept (no retention set)",
        "email open details: kept (no retention set)",
    ]
    assert cartback_purge(path, dry_run=False) == 0
    assert capsys.readouterr().out.splitlines()[:2] == [
        "raw deliveries older than 1d: 5 deleted",
        "message texts older than 1d: 2 erased",
    ]
    assert shop.api("/api/deliveries") == []
