"""What `cartback serve` and `check` say at start: the summary, masked URLs, warnings, secrets
that local commands do without, `--since`, and help for every option."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cartback import __version__
from cartback.cli import build_parser, load_settings
from cartback.cli.data import since_arg
from cartback.cli.summary import Summary
from cartback.config import ConfigError, Settings, load_config
from cartback.integrations.woocommerce_cart_recovery import url_token
from cartback.startup import (
    OperatorError,
    channel_findings,
    database_url,
    link_warnings,
    mask_url,
    unset_secrets,
)

STORES = """\
stores:
  - id: acme
    platform: shopify
    shop_domain: acme.myshopify.com
    webhook_secret: ${SHOPIFY_SECRET}
    name: Acme
  - id: woo
    platform: woocommerce
    webhook_secret: woo-secret
    name: Woo
    currency: EUR
  - id: custom
    platform: generic
    webhook_secret: s
    name: Custom
"""
FLOWS = """\
flows:
  - id: cart-sms
    store: acme
    abandon_after: 30m
    steps:
      - send: sms
      - wait: 24h
      - send: email
"""


def settings(tmp_path: Path, head: str, body: str = STORES + FLOWS, **env: str) -> Settings:
    path = tmp_path / "cartback.yaml"
    path.write_text(head + body, encoding="utf-8")
    return load_config(path, {"SHOPIFY_SECRET": "shh", **env})


def test_the_summary_names_everything_serve_runs(tmp_path: Path) -> None:
    head = """\
database_url: postgresql://cartback:hunter2@db.internal:5432/cartback
public_url: https://cb.example.com
api_token: t
channels:
  sms: {provider: twilio, sender: "+4512345678", account_sid: AC1, auth_token: tok}
  email: {provider: smtp, host: smtp.example.com, from: shop@example.com}
"""
    found = settings(tmp_path, head)
    lines = Summary(found, listening="http://0.0.0.0:8000", database="(schema 0004)").lines()
    text = "\n".join(lines)

    assert lines[0] == f"cartback {__version__}"
    assert "listening   http://0.0.0.0:8000" in text
    assert "postgresql://cartback:***@db.internal:5432/cartback (schema 0004)" in text
    assert "hunter2" not in text
    assert "acme: shopify, acme.myshopify.com" in text and "woo: woocommerce, UTC, EUR" in text
    assert "cart-sms (store acme): after 30m: sms, wait 1d, email" in text
    assert "sms: twilio, sender +4512345678" in text
    assert "email: smtp → smtp.example.com:587" in text
    token = url_token("woo-secret", "woo")
    for url in (
        "acme (Shopify webhooks): https://cb.example.com/webhooks/shopify",
        "woo (WooCommerce webhooks): https://cb.example.com/webhooks/woocommerce/woo",
        "woo (Cart Abandonment Recovery plugin): "
        f"https://cb.example.com/webhooks/woocommerce/woo/cart-abandonment?token={token}",
        "custom (generic webhook): https://cb.example.com/webhooks/generic/custom",
        "twilio (incoming messages, for STOP): https://cb.example.com/webhooks/twilio/inbound",
    ):
        assert url in text
    assert "warning" not in text


@pytest.mark.parametrize(
    ("public_url", "provider", "expected"),
    [
        ("http://localhost:8000", "twilio", "is this machine only"),
        ("http://127.0.0.2:8000", "twilio", "is this machine only"),
        ("http://cb.example.com", "outbox", "is not https"),
        ("https://cb.example.com", "twilio", None),
        ("http://127.0.0.1:8000", "outbox", None),  # the demo: all local, nothing leaves
    ],
)
def test_public_url_warnings(
    tmp_path: Path, public_url: str, provider: str, expected: str | None
) -> None:
    sms = '{provider: twilio, sender: "+4512345678", account_sid: A, auth_token: t}'
    head = f"public_url: {public_url}\napi_token: t\nchannels:\n  sms: "
    head += (sms if provider == "twilio" else "{provider: outbox, sender: Acme}") + "\n"
    warnings = link_warnings(settings(tmp_path, head), 8000)
    if expected is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and expected in warnings[0], warnings


def test_a_local_public_url_on_another_port_than_the_server_is_named(tmp_path: Path) -> None:
    found = settings(tmp_path, "public_url: http://127.0.0.1:8000\napi_token: t\n")
    [warning] = link_warnings(found, 8123)
    assert "names port 8000, but cartback listens on 8123" in warning


def test_gateway_settings_that_cannot_work(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    head = f"""\
api_token: t
channels:
  sms: {{provider: twilio, sender: Acme, account_sid: A, auth_token: t}}
  email: {{provider: outbox, path: {tmp_path}/a-file/outbox.jsonl}}
"""
    texts = [f.text for f in channel_findings(settings(tmp_path, head), strict_dns=True)]
    assert any("twilio sends from a number in +E.164 form" in t for t in texts), texts
    assert any("a-file is a file, not a folder" in t for t in texts), texts


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://cb:hunter2@db:5432/cb", "postgresql://cb:***@db:5432/cb"),
        ("postgresql+psycopg://cb:p%40ss@db/cb", "postgresql+psycopg://cb:***@db/cb"),
        ("postgresql://cb:p@ss@db/cb", "postgresql://cb:***@db/cb"),
        ("postgresql://cb@db/cb?password=hunter2&x=1", "postgresql://cb@db/cb?password=***&x=1"),
        ("postgresql://db/cb", "postgresql://db/cb"),
        ("sqlite:///cartback.db", "sqlite:///cartback.db"),
    ],
)
def test_database_urls_are_shown_without_their_password(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://cb:hunter2@db/cb", "mysql is not supported"),
        ("postgresql+asyncpg://cb:hunter2@db/cb", "the asyncpg driver is not installed"),
        ("oracle+oracledb://cb:hunter2@db/cb", "oracle is not supported"),
    ],
)
def test_a_database_cartback_cannot_use_is_named(url: str, words: str) -> None:
    with pytest.raises(OperatorError) as raised:
        database_url(url)
    assert words in str(raised.value) and "hunter2" not in str(raised.value)


def test_local_commands_run_without_the_secrets_they_do_not_use(tmp_path: Path) -> None:
    path = tmp_path / "cartback.yaml"
    path.write_text("api_token: ${CARTBACK_API_TOKEN}\n" + STORES + FLOWS, encoding="utf-8")
    with pytest.raises(ConfigError, match="environment variable CARTBACK_API_TOKEN is not set"):
        load_settings(str(path), needs_secrets=True)

    found = load_settings(str(path), needs_secrets=False)
    assert unset_secrets(found) == [
        ("api_token", "CARTBACK_API_TOKEN"),
        ("stores[0].webhook_secret", "SHOPIFY_SECRET"),
    ]
    text = "\n".join(Summary(found).lines())
    assert "not set: ${CARTBACK_API_TOKEN} (api_token), ${SHOPIFY_SECRET}" in text


def test_only_secrets_may_be_left_unset(tmp_path: Path) -> None:
    path = tmp_path / "cartback.yaml"
    path.write_text("api_token: t\npublic_url: ${PUBLIC_URL}\n" + STORES, encoding="utf-8")
    with pytest.raises(ConfigError, match="public_url: environment variable PUBLIC_URL"):
        load_settings(str(path), needs_secrets=False)


def test_which_commands_need_their_secrets() -> None:
    parser = build_parser()
    needs = {
        " ".join(args): parser.parse_args([*args, "--config", "c"]).needs_secrets
        for args in (["serve"], ["worker"], ["check"], ["report"], ["deliveries", "list"],
                     ["preview", "--flow", "f"], ["migrate"], ["tokens"])
    }  # fmt: skip
    assert {command for command, yes in needs.items() if yes} == {"serve", "worker"}


def test_since_takes_dates_times_and_spans() -> None:
    assert since_arg("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert since_arg("2026-11-01T08:00+01:00") == datetime(2026, 11, 1, 7, tzinfo=UTC)
    week_ago = datetime.now(UTC) - timedelta(days=7)
    assert abs(since_arg("7d") - week_ago) < timedelta(seconds=5)
    with pytest.raises(argparse.ArgumentTypeError, match="7 days"):
        since_arg("7 days")


def test_every_option_of_every_command_has_help() -> None:
    parser = build_parser()
    stack, missing = [("cartback", parser)], []
    while stack:
        name, current = stack.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack += [(f"{name} {n}", p) for n, p in action.choices.items()]
            elif not action.help:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"cartback {__version__}"


def test_verbose_and_log_level_may_follow_the_command() -> None:
    parser = build_parser()
    after = parser.parse_args(["report", "--config", "c", "--verbose", "--log-level", "ERROR"])
    before = parser.parse_args(["--verbose", "report", "--config", "c"])
    plain = parser.parse_args(["report", "--config", "c"])
    assert (after.verbose, after.log_level) == (True, "ERROR")
    assert (before.verbose, before.log_level) == (True, "INFO")
    assert (plain.verbose, plain.log_level) == (False, "INFO")


def test_check_names_the_rules_a_shopify_store_without_a_token_cannot_evaluate(
    tmp_path: Path,
) -> None:
    flows = FLOWS.replace(
        "    abandon_after: 30m\n",
        "    abandon_after: 30m\n    if: {customer_tags: {includes: vip}}\n",
    )
    found = settings(tmp_path, "api_token: t\n", STORES + flows)
    lines = Summary(found).lines()
    assert (
        "warning: store acme has no Shopify Admin access_token, so these rules cannot be "
        "evaluated on the shop's customer and product data: flow cart-sms: customer tags"
    ) in lines
    token = STORES.replace("    name: Acme\n", "    name: Acme\n    access_token: shpat_x\n", 1)
    assert not any(
        "access_token" in line
        for line in Summary(settings(tmp_path, "api_token: t\n", token + flows)).lines()
    )
