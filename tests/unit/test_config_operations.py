"""The config of running cartback: metrics access, retention, and an agency's stores."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from cartback.config.channels import OutboxSms, SmtpEmail, TwilioSms
from tests.unit.test_config import MINIMAL, error_of, load

TWO = """\
api_token: admin
stores:
  - id: one
    platform: generic
    webhook_secret: s1
    name: One
    api_token: one-token
    channels:
      sms: {sender: One, cost_per_segment: 0.25}
      email: {from: "One <one@example.com>"}
  - id: two
    platform: generic
    webhook_secret: s2
    name: Two
    api_token: two-token
    channels:
      sms: {provider: twilio, account_sid: AC2, auth_token: t2, sender: "+15550100"}
  - id: three
    platform: generic
    webhook_secret: s3
    name: Three
channels:
  sms: {provider: outbox, path: out.jsonl, sender: Global, cost_per_segment: 0.30}
  email: {provider: smtp, host: smtp.example.com, from: "Shop <shop@example.com>"}
"""


def test_metrics_are_private_and_nothing_is_purged_by_default(tmp_path: Path) -> None:
    settings = load(tmp_path, MINIMAL)
    assert settings.metrics.public is False
    assert not settings.retention.any


def test_retention_reads_durations_and_names_a_bad_one(tmp_path: Path) -> None:
    text = MINIMAL + "retention: {raw_deliveries: 30d, clicks: 180d}\nmetrics: {public: true}\n"
    settings = load(tmp_path, text)
    assert settings.retention.raw_deliveries == timedelta(days=30)
    assert settings.retention.message_texts is None
    assert settings.metrics.public is True
    bad = error_of(tmp_path, MINIMAL + "retention:\n  message_texts: 0s\n")
    assert (
        bad == f"{tmp_path / 'cartback.yaml'}:15: retention.message_texts: must be longer than 0s"
    )


def test_a_stores_channels_fill_in_from_the_global_ones(tmp_path: Path) -> None:
    settings = load(tmp_path, TWO)
    one, two, three = (settings.channels_of(s) for s in ("one", "two", "three"))
    assert isinstance(one.sms, OutboxSms) and one.sms.path == "out.jsonl"
    assert (one.sms.sender, one.sms.cost_per_segment) == ("One", Decimal("0.25"))
    assert isinstance(one.email, SmtpEmail) and one.email.host == "smtp.example.com"
    assert one.email.from_address == "One <one@example.com>"
    assert isinstance(two.sms, TwilioSms) and two.sms.account_sid == "AC2"
    assert two.email == settings.channels.email  # not its own: the global one
    assert three == settings.channels
    assert [s.api_token for s in settings.stores] == ["one-token", "two-token", None]


def test_tokens_name_one_caller_each(tmp_path: Path) -> None:
    same_as_admin = error_of(tmp_path, TWO.replace("one-token", "admin"))
    assert same_as_admin.endswith(
        "stores[0].api_token: is the global api_token; a store's token must be its own"
    )
    shared = error_of(tmp_path, TWO.replace("two-token", "one-token"))
    assert shared.endswith("stores[1].api_token: is already the token of stores[0]")
