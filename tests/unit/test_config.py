from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from cartback.config import ConfigError, Settings, load_config, parse_duration, read_since
from cartback.config.channels import InMobileSms, OutboxEmail, SmtpEmail
from cartback.domain.events import Channel
from cartback.domain.flow import Flow, SendStep, WaitStep

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# The config example of docs/architecture.md, verbatim: it is the public contract.
DESIGN_EXAMPLE = """\
database_url: sqlite:///cartback.db          # CARTBACK_DATABASE_URL overrides
public_url: http://localhost:8000            # base of short links
api_token: ${CARTBACK_API_TOKEN}             # bearer token for /api/*
stores:
  - id: demo
    platform: shopify                        # shopify | woocommerce | magento | generic
    shop_domain: demo.myshopify.com          # Shopify: matched against X-Shopify-Shop-Domain
    webhook_secret: ${SHOPIFY_SECRET}
    name: Demo Shop
    timezone: Europe/Copenhagen
    default_country: DK                      # for phone numbers written without +CC
channels:
  sms:
    provider: outbox                         # outbox | inmobile | twilio
    path: outbox.jsonl                       # outbox: one JSON object per line
    sender: DemoShop
    cost_per_segment: 0.30                   # in the store's currency
policy:
  quiet_hours: {start: "21:00", end: "09:00"}  # recipient's local time; null: off
  cooldown: 72h
flows:
  - id: cart-sms
    store: demo
    abandon_after: 30m
    steps:
      - send: sms
        template: "Hi {{ first_name }}, your basket at {{ store_name }} is saved: {{ link }}"
      - wait: 24h
      - send: email
"""
ENV = {"CARTBACK_API_TOKEN": "token-123", "SHOPIFY_SECRET": "shpss_abc"}

# A small valid config; error tests change one line of it. Line numbers matter below.
MINIMAL = """\
api_token: t
stores:
  - id: demo
    platform: shopify
    shop_domain: demo.myshopify.com
    webhook_secret: s
    name: Demo Shop
flows:
  - id: cart-sms
    store: demo
    abandon_after: 30m
    steps:
      - send: sms
"""


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "cartback.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, environ if environ is not None else {})


def error_of(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, environ)
    return str(caught.value)


def test_design_example_loads_with_its_values(tmp_path: Path) -> None:
    settings = load(tmp_path, DESIGN_EXAMPLE, ENV)

    assert settings.database_url == "sqlite:///cartback.db"
    assert settings.public_url == "http://localhost:8000"
    assert settings.api_token == "token-123"
    store = settings.stores[0]
    assert (store.id, store.platform, store.name) == ("demo", "shopify", "Demo Shop")
    assert store.shop_domain == "demo.myshopify.com"
    assert store.webhook_secret is not None
    assert store.webhook_secret.get_secret_value() == "shpss_abc"
    assert (store.timezone, store.default_country) == ("Europe/Copenhagen", "DK")
    sms = settings.channels.sms
    assert sms is not None
    assert (sms.provider, sms.path, sms.sender) == ("outbox", "outbox.jsonl", "DemoShop")
    assert str(sms.cost_per_segment) == "0.30"
    assert sms.cost_per_segment == Decimal("0.30")
    assert settings.policy.quiet_hours is not None
    assert settings.policy.quiet_hours.start == time(21, 0)
    assert settings.policy.quiet_hours.end == time(9, 0)
    assert settings.policy.cooldown == timedelta(hours=72)
    assert settings.domain_flows() == [
        Flow(
            id="cart-sms",
            store_id="demo",
            abandon_after=timedelta(minutes=30),
            steps=(
                SendStep(
                    Channel.SMS,
                    "Hi {{ first_name }}, your basket at {{ store_name }} is saved: {{ link }}",
                ),
                WaitStep(timedelta(hours=24)),
                SendStep(Channel.EMAIL),
            ),
        )
    ]


def test_design_example_file_matches_the_architecture_document_and_loads() -> None:
    architecture = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
    assert DESIGN_EXAMPLE in architecture.read_text(encoding="utf-8")
    settings = load_config(EXAMPLES / "cartback.yaml", ENV)
    assert settings.flows[0].id == "cart-sms"


def test_demo_config_loads_without_any_environment() -> None:
    settings = load_config(EXAMPLES / "demo.yaml", {})

    assert settings.database_url == "sqlite:///demo-data/cartback.db"
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.api_token == "demo-token"
    store = settings.store_by_shop_domain("DEMO-SHOP.myshopify.com")
    assert store is not None and store.id == "demo"
    assert (store.currency, store.default_country) == ("DKK", "DK")
    assert settings.channels.sms is not None
    assert settings.channels.sms.cost_per_segment == Decimal("0.30")
    assert settings.policy.quiet_hours is None
    assert settings.flows_for_store("demo")[0].abandon_after == timedelta(seconds=8)
    assert settings.flows_for_store("other") == []


def test_defaults_fill_omitted_sections(tmp_path: Path) -> None:
    settings = load(tmp_path, MINIMAL + "policy:\nworker:\n")

    assert settings.database_url == "sqlite:///cartback.db"
    assert settings.channels.sms is None and settings.channels.email is None
    assert settings.policy.quiet_hours is not None
    assert (settings.policy.quiet_hours.start, settings.policy.quiet_hours.end) == (
        time(21),
        time(9),
    )
    assert settings.policy.cooldown == timedelta(hours=72)
    assert settings.attribution.click_window == timedelta(days=5)
    assert settings.attribution.send_window == timedelta(hours=24)
    assert settings.worker.poll_interval == timedelta(seconds=1)
    assert settings.worker.batch_size == 100
    assert settings.worker.lease == timedelta(minutes=5)
    assert settings.stores[0].timezone == "UTC"


def test_environment_substitution_with_defaults_and_escape(tmp_path: Path) -> None:
    text = MINIMAL.replace("api_token: t", "api_token: ${TOKEN}").replace(
        "name: Demo Shop", "name: ${SHOP_NAME:-Fallback Shop} $${NOT_A_VAR}"
    )
    settings = load(tmp_path, text, {"TOKEN": "secret-token", "SHOP_NAME": ""})

    assert settings.api_token == "secret-token"
    assert settings.stores[0].name == "Fallback Shop ${NOT_A_VAR}"


def test_missing_environment_variable_names_key_and_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, DESIGN_EXAMPLE, {"CARTBACK_API_TOKEN": "t"})

    assert message.endswith(
        "cartback.yaml:8: stores[0].webhook_secret: environment variable SHOPIFY_SECRET is not set"
    )


def test_database_url_environment_variable_overrides_file(tmp_path: Path) -> None:
    url = "postgresql+psycopg://cartback@db/cartback"
    settings = load(tmp_path, DESIGN_EXAMPLE, {**ENV, "CARTBACK_DATABASE_URL": url})

    assert settings.database_url == url


def test_bad_duration(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL.replace("abandon_after: 30m", "abandon_after: 30x"))

    assert message.endswith(
        "cartback.yaml:11: flows[0].abandon_after: '30x' is not a duration "
        "(write e.g. 90s, 30m, 2h, 3d)"
    )


def test_unknown_key_is_named_with_its_line_and_a_suggestion(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL.replace("    name: Demo Shop", "    nmae: Demo Shop"))

    assert "cartback.yaml:7: stores[0].nmae: unknown key (did you mean 'name'?)" in message


def test_missing_required_key_points_at_its_mapping(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL.replace("    name: Demo Shop\n", ""))

    assert message.endswith("cartback.yaml:3: stores[0].name: required key is missing")


def test_flow_naming_an_unknown_store(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL.replace("store: demo", "store: dmeo"))

    assert message.endswith(
        "cartback.yaml:10: flows[0].store: flow 'cart-sms' names store 'dmeo', "
        "which is not configured (stores: demo)"
    )


def test_duplicate_store_ids(tmp_path: Path) -> None:
    second = "  - id: demo\n    platform: generic\n    insecure: true\n    name: Other\n"
    message = error_of(tmp_path, MINIMAL.replace("flows:\n", second + "flows:\n"))

    assert message.endswith(
        "cartback.yaml:8: stores[1].id: duplicate store id 'demo' (already used by stores[0])"
    )


def test_duplicate_flow_ids(tmp_path: Path) -> None:
    flow = MINIMAL[MINIMAL.index("  - id: cart-sms") :]
    message = error_of(tmp_path, MINIMAL + flow)

    assert "cartback.yaml:14: flows[1].id: duplicate flow id 'cart-sms'" in message


def test_bad_timezone(tmp_path: Path) -> None:
    text = MINIMAL.replace("name: Demo Shop", "name: Demo Shop\n    timezone: Europe/Copenhaven")
    message = error_of(tmp_path, text)

    assert "cartback.yaml:8: stores[0].timezone: 'Europe/Copenhaven' is not a known time zone" in (
        message
    )


def test_bad_yaml_syntax_names_the_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL.replace("    store: demo", "    store: [demo"))

    # the line where the '[' opens, not the later one where the parser noticed
    assert "cartback.yaml:10: invalid YAML: the '[' opened here is never closed" in message


def test_wrong_type(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL + "worker:\n  batch_size: lots\n")

    assert "cartback.yaml:15: worker.batch_size: Input should be a valid integer" in message
    assert "(got 'lots')" in message


def test_every_problem_is_reported(tmp_path: Path) -> None:
    text = MINIMAL.replace("platform: shopify", "platform: shopfiy").replace("30m", "soon")

    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert [(p.line, p.key) for p in caught.value.problems] == [
        (4, "stores[0].platform"),
        (11, "flows[0].abandon_after"),
    ]


def test_shopify_store_needs_webhook_secret(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL.replace("    webhook_secret: s\n", ""))

    assert "cartback.yaml:3: stores[0].webhook_secret: required for a shopify store" in message


def test_webhook_secret_and_api_token_never_show_in_repr(tmp_path: Path) -> None:
    settings = load(tmp_path, DESIGN_EXAMPLE, ENV)

    assert "shpss_abc" not in repr(settings)
    assert "token-123" not in repr(settings)


def test_public_url_loses_trailing_slash_and_must_be_http(tmp_path: Path) -> None:
    settings = load(tmp_path, MINIMAL + "public_url: https://cart.example.com/\n")
    assert settings.public_url == "https://cart.example.com"

    message = error_of(tmp_path, MINIMAL + "public_url: ftp://cart.example.com\n")
    assert "cartback.yaml:14: public_url: 'ftp://cart.example.com' is not an http(s) URL" in message


def test_yaml_1_1_surprises_stay_strings(tmp_path: Path) -> None:
    text = MINIMAL.replace("name: Demo Shop", "name: Demo Shop\n    default_country: NO")
    text += "policy:\n  quiet_hours: {start: 22:00, end: 7:30}\n"
    settings = load(tmp_path, text)

    assert settings.stores[0].default_country == "NO"
    assert settings.policy.quiet_hours is not None
    assert settings.policy.quiet_hours.end == time(7, 30)


def test_step_needs_exactly_one_of_wait_or_send(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL.replace("- send: sms", "- send: sms\n        wait: 1h"))

    assert "cartback.yaml:13: flows[0].steps[0]: a step needs exactly one of" in message


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL + "api_token: again\n")

    assert "cartback.yaml:14: api_token: duplicate key (first written on line 1)" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "-5m", "5 minutes", "2w", "1.5h", "30m1h", "m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_numbers_written_where_text_is_expected_keep_their_digits(tmp_path: Path) -> None:
    text = MINIMAL.replace("webhook_secret: s", "webhook_secret: 0123")
    text += "channels:\n  sms:\n    provider: outbox\n    sender: +4512345678\n"
    settings = load(tmp_path, text)

    assert settings.channels.sms is not None
    assert settings.channels.sms.sender == "+4512345678"
    assert settings.stores[0].webhook_secret is not None
    assert settings.stores[0].webhook_secret.get_secret_value() == "0123"


def test_worker_poll_interval_must_be_positive(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL + "worker:\n  poll_interval: 0s\n")

    assert message.endswith("cartback.yaml:15: worker.poll_interval: must be longer than 0s")


# --- channels: one model per provider -----------------------------------------------------------


def _with_channels(channels: str) -> str:
    return MINIMAL + "channels:\n" + channels


def test_each_provider_requires_its_own_keys_naming_key_and_line(tmp_path: Path) -> None:
    inmobile = error_of(tmp_path, _with_channels("  sms:\n    provider: inmobile\n    sender: X\n"))
    twilio = error_of(tmp_path, _with_channels("  sms:\n    provider: twilio\n    sender: X\n"))
    smtp = error_of(tmp_path, _with_channels("  email:\n    provider: smtp\n    from: a@b.dk\n"))

    assert "cartback.yaml:15: channels.sms.api_key: required for the inmobile provider" in inmobile
    assert "cartback.yaml:15: channels.sms.account_sid: required for the twilio provider" in twilio
    assert "channels.sms.auth_token: required for the twilio provider" in twilio
    assert "cartback.yaml:15: channels.email.host: required for the smtp provider" in smtp


def test_an_unknown_or_missing_provider_is_named(tmp_path: Path) -> None:
    unknown = error_of(
        tmp_path, _with_channels("  sms:\n    provider: carrier-pigeon\n    sender: X\n")
    )
    missing = error_of(tmp_path, _with_channels("  sms:\n    sender: X\n"))

    assert (
        "cartback.yaml:16: channels.sms.provider: 'carrier-pigeon' is not a provider "
        "(write one of: outbox, inmobile, twilio)"
    ) in unknown
    assert "channels.sms.provider: required key is missing (write one of: outbox" in missing


def test_a_key_of_another_provider_is_unknown_for_this_one(tmp_path: Path) -> None:
    text = "  sms:\n    provider: twilio\n    sender: X\n    account_sid: AC1\n"
    message = error_of(tmp_path, _with_channels(text + "    auth_token: t\n    api_key: k\n"))

    assert "cartback.yaml:20: channels.sms.api_key: unknown key" in message
    assert "messaging_service_sid" in message  # the keys twilio knows


def test_each_provider_loads_as_its_own_model(tmp_path: Path) -> None:
    text = (
        "  sms:\n    provider: inmobile\n    sender: X\n    api_key: k\n"
        "  email:\n    provider: smtp\n    host: smtp.example.com\n    from: Shop <s@example.com>\n"
    )
    settings = load(tmp_path, _with_channels(text))
    outbox = load(tmp_path, _with_channels("  email:\n    path: mail.jsonl\n"))

    assert isinstance(settings.channels.sms, InMobileSms) and settings.channels.sms.api_key == "k"
    assert "'k'" not in repr(settings.channels.sms)
    assert isinstance(settings.channels.email, SmtpEmail)
    assert settings.channels.email.from_address == "Shop <s@example.com>"
    assert isinstance(outbox.channels.email, OutboxEmail)  # email's provider defaults to outbox


def test_the_platforms_a_store_may_name_come_from_the_registry(tmp_path: Path) -> None:
    message = error_of(tmp_path, MINIMAL.replace("platform: shopify", "platform: shopfiy"))

    assert (
        "cartback.yaml:4: stores[0].platform: 'shopfiy' is not a platform cartback knows "
        "(known: shopify, woocommerce, generic, magento)"
    ) in message


def test_a_gateway_timeout_must_be_shorter_than_the_lease(tmp_path: Path) -> None:
    channels = "channels:\n  sms:\n    provider: outbox\n    sender: Demo\n    timeout: 10s\n"
    config = MINIMAL.replace("flows:", f"{channels}worker:\n  lease: 10s\nflows:")
    message = error_of(tmp_path, config)
    assert "channels.sms.timeout" in message and "shorter than worker.lease (10s)" in message


NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        (" 1h30m ", NOW - timedelta(hours=1, minutes=30)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T08:00+01:00", datetime(2026, 11, 1, 7, tzinfo=UTC)),
        ("2026-11-01T08:00", datetime(2026, 11, 1, 8)),  # naive: the caller decides
        ("1764547200", datetime(2025, 12, 1, tzinfo=UTC)),
    ],
)
def test_read_since_takes_spans_dates_times_and_unix_seconds(text: str, expected: datetime) -> None:
    assert read_since(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [("yesterday", "is not a date"), ("", "is not a date"), ("99999999d", "before the year 1")],
)
def test_read_since_names_what_it_cannot_read(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        read_since(text, NOW)
