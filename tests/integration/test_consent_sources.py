"""Consent given outside the shop's checkout: through the API and from a CSV file."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from tests.integration.conftest import PHONE, TOKEN, Shop

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _reasons(shop: Shop) -> list[str]:
    return [e["reason"] for e in shop.cart()["timeline"] if e["kind"] == "decision"]


def test_consent_recorded_through_the_api_lets_the_sms_go(shop: Shop) -> None:
    body = {
        "store": "acme",
        "channel": "sms",
        "granted": True,
        "phone": "20 12 34 56",  # national form: the store's default country applies
        "wording": "Yes, text me offers from Acme (signup form, 2026-11)",
        "source": "signup-form",
    }
    answer = shop.client.post("/api/consent", json=body, headers=AUTH)
    assert answer.status_code == 200 and answer.json()["address"] == PHONE
    shop.checkout(buyer_accepts_sms_marketing=False)
    shop.advance(timedelta(minutes=30))
    assert len(shop.sms.sent) == 1
    [entry] = shop.api(f"/api/contacts/{PHONE.replace('+', '%2B')}")["history"]
    assert entry["source"] == "api:signup-form" and entry["detail"].startswith("Yes, text me")


def test_a_withdrawal_through_the_api_wins_over_the_checkout_box(shop: Shop) -> None:
    shop.checkout()  # ticked the box
    shop.clock.advance(timedelta(minutes=1))
    body = {
        "store": "acme",
        "channel": "sms",
        "granted": False,
        "phone": PHONE,
        "wording": "Asked the shop by phone to stop texts",
    }
    assert shop.client.post("/api/consent", json=body, headers=AUTH).status_code == 200
    shop.advance(timedelta(minutes=30))
    assert shop.sms.sent == []
    assert "no_consent" in _reasons(shop)


def test_api_consent_errors_name_the_field(shop: Shop) -> None:
    cases = [
        (
            {"store": "nope", "channel": "sms", "granted": True, "phone": PHONE, "wording": "x"},
            "store",
        ),
        ({"store": "acme", "channel": "sms", "granted": True, "wording": "x"}, "phone"),
        ({"store": "acme", "channel": "email", "granted": True, "wording": "x"}, "email"),
        (
            {
                "store": "acme",
                "channel": "sms",
                "granted": True,
                "phone": "555-BILL",
                "wording": "x",
            },
            "phone",
        ),
    ]
    for body, field in cases:
        answer = shop.client.post("/api/consent", json=body, headers=AUTH)
        assert answer.status_code == 422 and field in answer.text, (body, answer.text)
    assert shop.client.post("/api/consent", json=cases[0][0]).status_code == 401


def test_a_consent_file_is_imported_once_and_its_errors_name_line_and_column(
    shop: Shop, db_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "cartback.yaml"  # written by the shop fixture
    good = tmp_path / "consent.csv"
    good.write_text(
        "store,phone,email,channel,granted,occurred_at,wording\n"
        f"acme,{PHONE},,sms,yes,2026-11-01T10:00:00+01:00,Ticked the box at the till\n"
        "acme,,Astrid@Example.com,email,yes,2026-11-01T10:00:00+01:00,Newsletter signup\n"
    )
    command = [sys.executable, "-m", "cartback.cli", "consent", "import", "--config", str(config)]
    first = subprocess.run([*command, str(good)], capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    assert "2 new" in first.stdout
    again = subprocess.run([*command, str(good)], capture_output=True, text=True, check=False)
    assert "0 new, 2 already known" in again.stdout
    contact = shop.api("/api/contacts/astrid@example.com")
    assert contact["consent"]["email"] is True
    assert contact["history"][0]["source"] == "import:consent.csv"

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "store,phone,email,channel,granted,occurred_at,wording\n"
        f"acme,{PHONE},,sms,perhaps,2026-11-01T10:00:00+01:00,x\n"
        f"acme,{PHONE},,sms,yes,2026-11-01T10:00:00,x\n"
    )
    refused = subprocess.run([*command, str(bad)], capture_output=True, text=True, check=False)
    assert refused.returncode == 2
    assert "line 2, column granted" in refused.stderr
    assert "line 3, column occurred_at" in refused.stderr
