"""The block `cartback serve` prints once it listens, and `cartback check` prints as its answer:
what runs, against what, and the URLs to paste into each shop."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from cartback import __version__
from cartback.config import Settings, StoreConfig
from cartback.config.channels import ChannelsConfig
from cartback.domain.flow import EndStep, Flow, SendStep, Step, WaitStep
from cartback.engine.enrichment import admin_gaps
from cartback.engine.pacing import Limits
from cartback.gateways import pace
from cartback.integrations.woocommerce_cart_recovery import url_token
from cartback.startup import is_not_set, mask_url, unset_secrets


@dataclass(frozen=True)
class WebhookUrl:
    store: str
    what: str  # where it is pasted, e.g. "Shopify webhooks"
    url: str


@dataclass
class Summary:
    settings: Settings
    listening: str | None = None  # e.g. http://127.0.0.1:8000; None: not a server
    database: str = ""  # what is known of the database, after its masked URL
    worker: str | None = None
    warnings: list[str] = field(default_factory=list)
    webhooks: bool = True  # the URLs to paste into each shop (not for a worker)

    def lines(self) -> list[str]:
        settings = self.settings
        lines = [f"cartback {__version__}"]
        if self.listening is not None:
            lines.append(_row("listening", self.listening))
        lines.append(_row("public URL", f"{settings.public_url} (base of links in messages)"))
        lines.append(
            _row("database", f"{mask_url(settings.database_url)} {self.database}".rstrip())
        )
        if self.worker is not None:
            lines.append(_row("worker", self.worker))
        lines += _section("stores", [_store(store) for store in settings.stores])
        lines += _section("flows", [_flow(flow) for flow in settings.domain_flows()])
        lines += _section("channels", _channels(settings))
        urls = webhook_urls(settings) if self.webhooks else []
        if urls:
            lines.append("webhook URLs to paste into each shop:")
            lines += [f"  {u.store} ({u.what}): {u.url}" for u in urls]
        missing = unset_secrets(settings)
        warnings = list(self.warnings)
        for store_id, gaps in admin_gaps(settings).items():
            warnings.append(
                f"store {store_id} has no Shopify Admin access_token, so these rules cannot be "
                f"evaluated on the shop's customer and product data: {gaps}"
            )
        if missing:
            names = ", ".join(f"${{{var}}} ({key})" for key, var in missing)
            warnings.append(f"not set: {names}; `cartback serve` and `worker` need them")
        lines += [f"warning: {warning}" for warning in warnings]
        return lines


def _row(label: str, value: str) -> str:
    return f"  {label:<11} {value}"


def _section(label: str, values: list[str]) -> list[str]:
    if not values:
        return [_row(label, "none")]
    return [_row(label if n == 0 else "", value) for n, value in enumerate(values)]


def _store(store: StoreConfig) -> str:
    details = [store.platform, store.shop_domain, store.timezone, store.currency]
    return f"{store.id}: " + ", ".join(d for d in details if d)


def _flow(flow: Flow) -> str:
    steps = ", ".join(_step(step) for step in flow.steps)
    return f"{flow.id} (store {flow.store_id}): after {duration(flow.abandon_after)}: {steps}"


def _step(step: Step) -> str:
    condition = " if …" if step.guard is not None else ""
    if isinstance(step, WaitStep):
        return f"wait {duration(step.duration)}{condition}"
    if isinstance(step, EndStep):
        return f"end{condition}"
    if isinstance(step, SendStep):
        return f"{step.channel.value}{condition}"
    return type(step).__name__


def _channels(settings: Settings) -> list[str]:
    found = _channel_lines(settings.channels, "")
    for store in settings.stores:
        if store.channels is not None:  # an agency's shop with channels of its own
            found += _channel_lines(settings.channels_of(store.id), f" (store {store.id})")
    return found


def _channel_lines(channels: ChannelsConfig, whose: str) -> list[str]:
    sms, email = channels.sms, channels.email
    found = []
    if sms is not None:
        where = f" → {sms.path}" if sms.provider == "outbox" else ""
        found.append(f"sms{whose}: {sms.provider}{where}, sender {sms.sender}, {_pace(pace(sms))}")
    if email is not None:
        where = (
            f" → {email.path}" if email.provider == "outbox" else f" → {email.host}:{email.port}"
        )
        found.append(f"email{whose}: {email.provider}{where}, {_pace(pace(email))}")
    return found


def _pace(limits: Limits) -> str:
    """The pace a channel sends at, e.g. `8 at once, 1/s per sender`."""
    rate = f"{limits.rate:g}/s per sender" if limits.rate is not None else "no rate limit"
    return f"{limits.concurrency} at once, {rate}"


def webhook_urls(settings: Settings) -> list[WebhookUrl]:
    """Per store, the URLs its shop sends to; then the gateways' callbacks to paste."""
    base = f"{settings.public_url}/webhooks"
    urls = []
    for store in settings.stores:
        if store.platform == "shopify":
            urls.append(WebhookUrl(store.id, "Shopify webhooks", f"{base}/shopify"))
        elif store.platform == "woocommerce":
            urls.append(
                WebhookUrl(store.id, "WooCommerce webhooks", f"{base}/woocommerce/{store.id}")
            )
            urls.append(
                WebhookUrl(store.id, "Cart Abandonment Recovery plugin", _car_url(base, store))
            )
        elif store.platform == "generic":
            urls.append(WebhookUrl(store.id, "generic webhook", f"{base}/generic/{store.id}"))
        elif store.platform == "magento":
            urls.append(
                WebhookUrl(store.id, "Commerce webhooks (optional)", f"{base}/magento/{store.id}")
            )
    sms = settings.channels.sms
    if sms is not None and sms.provider == "twilio":
        urls.append(WebhookUrl("twilio", "incoming messages, for STOP", f"{base}/twilio/inbound"))
    return urls


def _car_url(base: str, store: StoreConfig) -> str:
    secret = store.webhook_secret.get_secret_value() if store.webhook_secret else ""
    if not secret or is_not_set(secret):
        return f"{base}/woocommerce/{store.id}/cart-abandonment?token=(set webhook_secret first)"
    return f"{base}/woocommerce/{store.id}/cart-abandonment?token={url_token(secret, store.id)}"


def duration(span: timedelta) -> str:
    """`90s`, `30m`, `2h`, `3d`, `1h30m`: as the config writes durations."""
    seconds = int(span.total_seconds())
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"
