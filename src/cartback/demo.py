"""`cartback serve --demo`: a simulated Shopify shop that sends webhooks to this very server.

Shoppers arrive every few seconds, each with a scenario: some buy before their cart counts as
abandoned, some come back through the SMS link, some never come back, and some gave no consent
(so they must get no SMS). Payload building is pure; the thread does the I/O.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx

from cartback.config import Settings, StoreConfig
from cartback.domain.phone import InvalidPhone, normalize_phone
from cartback.domain.redact import mask_phone
from cartback.integrations import shopify

API_VERSION = "2026-04"
CURRENCY = "DKK"
CENT = Decimal("0.01")
NEW_SHOPPER_EVERY = (2.0, 3.0)  # seconds, drawn uniformly
REPORT_EVERY = 5.0
GIVE_UP_AFTER = 60.0
SILENCE_MARGIN = 5.0  # seconds past abandon_after before we conclude no SMS went out
TICK = 0.25


class Scenario(StrEnum):
    BUYS = "buys before abandoning"
    RETURNS = "comes back after the SMS"
    IGNORES = "never comes back"
    NO_CONSENT = "no consent"


WEIGHTS: dict[Scenario, int] = {
    Scenario.BUYS: 2,
    Scenario.RETURNS: 4,
    Scenario.IGNORES: 3,
    Scenario.NO_CONSENT: 1,
}
# The first shoppers show one scenario each, so that a short demo run shows all of them.
INTRODUCTION = (Scenario.RETURNS, Scenario.BUYS, Scenario.NO_CONSENT, Scenario.IGNORES)


class Stage(StrEnum):
    UPDATE = "update"
    ORDER = "order"
    AWAIT_SMS = "await sms"
    CLICK = "click"
    CHECK_SILENT = "check silent"


# What each shopper does after checkouts/create, in order; delays are from the previous stage.
SCRIPTS: dict[Scenario, tuple[Stage, ...]] = {
    Scenario.BUYS: (Stage.UPDATE, Stage.ORDER, Stage.CHECK_SILENT),
    Scenario.RETURNS: (Stage.AWAIT_SMS, Stage.CLICK, Stage.ORDER),
    Scenario.IGNORES: (Stage.AWAIT_SMS,),
    Scenario.NO_CONSENT: (Stage.CHECK_SILENT,),
}
DELAYS: dict[Stage, float] = {Stage.UPDATE: 1.0, Stage.ORDER: 2.0, Stage.CLICK: 1.0}


@dataclass(frozen=True, slots=True)
class Product:
    title: str
    sku: str
    price: Decimal
    product_id: int


CATALOGUE: tuple[Product, ...] = (
    Product("Uldplaid, grå", "PLAID-GR", Decimal("599.00"), 8101),
    Product("Keramikkrus, 4 stk.", "KRUS-4", Decimal("249.95"), 8102),
    Product("Kaffekande 1 l", "KANDE-1L", Decimal("449.00"), 8103),
    Product("Viskestykke i hør", "HOER-VS", Decimal("89.50"), 8104),
    Product("Pendel, opalglas", "PENDEL-OP", Decimal("1199.00"), 8105),
    Product("Stearinlys, 6 stk.", "LYS-6", Decimal("59.00"), 8106),
)
FIRST_NAMES = ("Freja", "Mads", "Ida", "Søren", "Astrid", "Mikkel", "Sofie", "Rasmus", "Maja")
LAST_NAMES = ("Jensen", "Nielsen", "Hansen", "Pedersen", "Sørensen", "Kjær", "Lund", "Møller")
CITIES = ("København K", "Aarhus C", "Odense C", "Aalborg")
_ASCII = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa"})
_LINK = re.compile(r"/r/([A-Za-z0-9_-]+)/?$")


@dataclass(frozen=True, slots=True)
class BasketLine:
    product: Product
    quantity: int

    @property
    def total(self) -> Decimal:
        return self.product.price * self.quantity


@dataclass(frozen=True, slots=True)
class Shopper:
    number: int
    scenario: Scenario
    token: str
    cart_token: str
    recovery_key: str
    first_name: str
    last_name: str
    email: str
    phone: str  # E.164
    phone_display: str  # as the shopper typed it: "+45 2x xx xx xx"
    city: str
    basket: tuple[BasketLine, ...]
    customer_id: int
    order_id: int
    created_at: datetime

    @property
    def sms_consent(self) -> bool:
        return self.scenario != Scenario.NO_CONSENT

    @property
    def total(self) -> Decimal:
        return sum((line.total for line in self.basket), Decimal("0"))


# --- shoppers and payloads (pure) -------------------------------------------------------------


def pick_scenario(rng: random.Random) -> Scenario:
    return rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]


def danish_mobile(rng: random.Random) -> str:
    """A valid Danish mobile number as people write it: `+45 2x xx xx xx`."""
    while True:  # a few 2xxx xxxx ranges are not allocated; draw again (about 7% of draws)
        digits = "2" + "".join(str(rng.randrange(10)) for _ in range(7))
        written = f"+45 {digits[0:2]} {digits[2:4]} {digits[4:6]} {digits[6:8]}"
        with contextlib.suppress(InvalidPhone):
            normalize_phone(written, "DK")
            return written


def new_shopper(rng: random.Random, number: int, scenario: Scenario, now: datetime) -> Shopper:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    display = danish_mobile(rng)
    products = rng.sample(CATALOGUE, rng.randint(1, 3))
    return Shopper(
        number=number,
        scenario=scenario,
        token=f"{rng.getrandbits(128):032x}",
        cart_token=f"{rng.getrandbits(128):032x}",
        recovery_key=f"{rng.getrandbits(96):024x}",
        first_name=first,
        last_name=last,
        email=f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@example.com".translate(_ASCII),
        phone="+" + "".join(c for c in display if c.isdigit()),
        phone_display=display,
        city=rng.choice(CITIES),
        basket=tuple(BasketLine(p, rng.choice((1, 1, 2))) for p in products),
        customer_id=rng.randrange(10**15, 2**53),
        order_id=rng.randrange(10**17, 2**63),
        created_at=now,
    )


def _money(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _address(shopper: Shopper) -> dict[str, Any]:
    return {
        "first_name": shopper.first_name,
        "last_name": shopper.last_name,
        "address1": "Nørregade 1",
        "city": shopper.city,
        "country": "Denmark",
        "country_code": "DK",
        "phone": shopper.phone_display,
    }


def _customer(shopper: Shopper) -> dict[str, Any]:
    """The 2026-04 nested customer: no consent, tags or order count on it any more."""
    return {
        "id": shopper.customer_id,
        "first_name": shopper.first_name,
        "last_name": shopper.last_name,
        "email": shopper.email,
        "phone": shopper.phone_display,
        "currency": CURRENCY,
        "default_address": {"customer_id": shopper.customer_id, **_address(shopper)},
    }


def _line_items(shopper: Shopper) -> list[dict[str, Any]]:
    return [
        {
            "title": line.product.title,
            "sku": line.product.sku,
            "product_id": line.product.product_id,
            "quantity": line.quantity,
            "price": _money(line.product.price),
        }
        for line in shopper.basket
    ]


def _totals(shopper: Shopper) -> dict[str, Any]:
    return {
        "currency": CURRENCY,
        "presentment_currency": CURRENCY,
        "taxes_included": True,
        "total_price": _money(shopper.total),
        "discount_codes": [],
        "line_items": _line_items(shopper),
        "billing_address": _address(shopper),
        "customer": _customer(shopper),
    }


def checkout_payload(shopper: Shopper, now: datetime) -> dict[str, Any]:
    """A checkouts/create or checkouts/update body as API version 2026-04 sends it."""
    return {
        "token": shopper.token,
        "cart_token": shopper.cart_token,
        "email": shopper.email,
        "phone": shopper.phone_display,
        "buyer_accepts_marketing": shopper.sms_consent,
        "buyer_accepts_sms_marketing": shopper.sms_consent,
        "sms_marketing_phone": shopper.phone if shopper.sms_consent else None,
        "created_at": _stamp(shopper.created_at),
        "updated_at": _stamp(now),
        "abandoned_checkout_url": (
            f"https://demo-shop.example/checkouts/{shopper.token}/recover"
            f"?key={shopper.recovery_key}"
        ),
        **_totals(shopper),
    }


def order_payload(shopper: Shopper, now: datetime) -> dict[str, Any]:
    """An orders/create body for the shopper's checkout, paid."""
    return {
        "id": shopper.order_id,
        "name": f"#{1000 + shopper.number}",
        "checkout_token": shopper.token,
        "cart_token": shopper.cart_token,
        "email": shopper.email,
        "phone": shopper.phone_display,
        "financial_status": "paid",
        "created_at": _stamp(now),
        **_totals(shopper),
    }


def outbox_sms(line: str) -> tuple[str, str] | None:
    """(to, text) of one SMS line of the outbox file; None for anything else."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict) or entry.get("channel", "sms") != "sms":
        return None
    to, text = entry.get("to"), entry.get("text")
    return (to, text) if isinstance(to, str) and isinstance(text, str) else None


def link_path(text: str) -> str | None:
    """`/r/<code>` of the short link in a message, whatever host the link names."""
    for word in text.split():
        match = _LINK.search(urlsplit(word.rstrip(".,;:!?)")).path)
        if match is not None:
            return f"/r/{match.group(1)}"
    return None


def report_line(report: Mapping[str, Any]) -> str:
    currency = report.get("currency") or ""
    roas = report.get("roas")
    return (
        f"[demo] abandoned {report['carts_abandoned']}"
        f" | sent {report['messages_sent']} SMS ({report['sms_segments']} segments)"
        f" | spend {Decimal(str(report['spend'])):,.2f} {currency}"
        f" | recovered {report['orders_recovered']} orders,"
        f" {Decimal(str(report['recovered_revenue'])):,.2f} {currency}"
        f" | ROAS {f'{Decimal(str(roas)):.2f}x' if roas is not None else '-'}"
    )


# --- the simulation (I/O) ---------------------------------------------------------------------


class _Failed(Exception):
    """A shopper's next step could not be done; the message is printed and the shopper dropped."""


@dataclass
class _Visit:
    shopper: Shopper
    started: float
    due: float
    stages: list[Stage]
    sms_text: str | None = None


@dataclass
class _Outbox:
    """Follows the outbox file from where it ended when the demo started."""

    path: Path
    offset: int = 0
    texts: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def poll(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.decode("utf-8", errors="replace").splitlines():
            sms = outbox_sms(line)
            if sms is not None:
                self.texts.setdefault(sms[0], []).append(sms[1])

    def first_for(self, phone: str) -> str | None:
        found = self.texts.get(phone)
        return found[0] if found else None


class DemoShop(threading.Thread):
    """Sends a stream of simulated shoppers' webhooks to the server at `base_url`."""

    def __init__(self, settings: Settings, base_url: str, *, seed: int | None = None) -> None:
        super().__init__(name="cartback-demo", daemon=True)
        self.settings = settings
        self.base_url = base_url.rstrip("/")
        self.rng = random.Random(seed)
        self.stopping = threading.Event()
        self.store = _shopify_store(settings)
        self.zone = ZoneInfo(self.store.timezone) if self.store else ZoneInfo("UTC")
        self.abandon_after = _abandon_after(settings, self.store)
        sms = settings.channels.sms
        self.outbox = _Outbox(Path(sms.path)) if sms is not None else None
        self.client = httpx.Client(base_url=self.base_url, timeout=5.0)
        self.visits: list[_Visit] = []
        self.errors: dict[str, str] = {}
        self.count = 0

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        if self.store is None:
            print("[demo] no `platform: shopify` store in the config; the demo shop stays closed")
            return
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
        with self.client:
            if self._wait_until_up():
                self._loop()

    def _wait_until_up(self) -> bool:
        while not self.stopping.is_set():
            try:
                if self.client.get("/healthz").status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            self.stopping.wait(0.2)
        return False

    def _loop(self) -> None:
        next_shopper = next_report = time.monotonic()
        while not self.stopping.is_set():
            now = time.monotonic()
            if now >= next_shopper:
                self._guard(self._arrive)
                next_shopper = now + self.rng.uniform(*NEW_SHOPPER_EVERY)
            self._guard(self._advance_all)
            if now >= next_report:
                self._guard(self._report)
                next_report = now + REPORT_EVERY
            self.stopping.wait(TICK)

    def _guard(self, action: Callable[[], None]) -> None:
        """Run one part of the loop; print a failure once, not on every tick it persists."""
        name = action.__name__
        try:
            action()
        except Exception as exc:  # the demo thread must outlive any one failure
            text = str(exc) if isinstance(exc, _Failed) else f"{type(exc).__name__}: {exc}"
            if self.errors.get(name) != text:
                print(f"[demo] {text}", flush=True)
            self.errors[name] = text
        else:
            self.errors.pop(name, None)

    def _now(self) -> datetime:
        return datetime.now(self.zone)

    def _arrive(self) -> None:
        self.count += 1
        scenario = (
            INTRODUCTION[self.count - 1]
            if self.count <= len(INTRODUCTION)
            else pick_scenario(self.rng)
        )
        shopper = new_shopper(self.rng, self.count, scenario, self._now())
        count = sum(line.quantity for line in shopper.basket)
        items = f"{count} item{'s' if count > 1 else ''}"
        money = f"{shopper.total:,.2f} {CURRENCY}"
        self._say(shopper, f"{shopper.scenario} | {mask_phone(shopper.phone)} | {items}, {money}")
        self._send("checkouts/create", checkout_payload(shopper, self._now()))
        started = time.monotonic()
        stages = list(SCRIPTS[shopper.scenario])
        self.visits.append(_Visit(shopper, started, self._due(stages[0], started, started), stages))

    def _advance_all(self) -> None:
        if self.outbox is not None:
            self.outbox.poll()
        for visit in list(self.visits):
            if not self._advance(visit):
                self.visits.remove(visit)

    def _advance(self, visit: _Visit) -> bool:
        """Do the visit's next stage when due; False when the visit is over."""
        now = time.monotonic()
        if now - visit.started > GIVE_UP_AFTER:
            self._say(visit.shopper, f"gave up waiting ({visit.stages[0]})")
            return False
        if now < visit.due:
            return True
        try:
            if not self._do(visit.stages[0], visit):
                return True
        except Exception as exc:  # one shopper's failure ends that shopper, not the demo
            reason = str(exc) if isinstance(exc, _Failed) else f"{type(exc).__name__}: {exc}"
            self._say(visit.shopper, f"dropped: {reason}")
            return False
        visit.stages.pop(0)
        if not visit.stages:
            return False
        visit.due = self._due(visit.stages[0], now, visit.started)
        return True

    def _due(self, stage: Stage, now: float, started: float) -> float:
        if stage == Stage.CHECK_SILENT:
            return started + self.abandon_after + SILENCE_MARGIN
        return now + DELAYS.get(stage, 0.0)

    def _do(self, stage: Stage, visit: _Visit) -> bool:
        """Do one stage; False when it must be tried again later."""
        shopper = visit.shopper
        if stage == Stage.UPDATE:
            self._send("checkouts/update", checkout_payload(shopper, self._now()))
            return True
        if stage == Stage.ORDER:
            self._send("orders/create", order_payload(shopper, self._now()))
            self._say(shopper, f"ordered {shopper.total:,.2f} {CURRENCY}")
            return True
        if stage == Stage.AWAIT_SMS:
            return self._await_sms(visit)
        if stage == Stage.CLICK:
            return self._click(visit)
        return self._check_silent(shopper)

    def _await_sms(self, visit: _Visit) -> bool:
        if self.outbox is None:
            raise _Failed("no SMS channel is configured")
        visit.sms_text = self.outbox.first_for(visit.shopper.phone)
        if visit.sms_text is None:
            return False
        if visit.shopper.scenario == Scenario.IGNORES:
            self._say(visit.shopper, "got the SMS and never comes back")
        return True

    def _click(self, visit: _Visit) -> bool:
        path = link_path(visit.sms_text or "")
        if path is None:
            raise _Failed("the SMS has no /r/<code> link")
        answer = self._http("GET", path)
        if answer.status_code != 302:
            raise _Failed(f"GET /r/<code> answered {answer.status_code}, expected 302")
        self._say(visit.shopper, f"clicked {path} -> 302 to the saved basket")
        return True

    def _check_silent(self, shopper: Shopper) -> bool:
        if self.outbox is not None and self.outbox.first_for(shopper.phone) is not None:
            self._say(shopper, "PROBLEM: got an SMS it should not have got")
        else:
            self._say(shopper, "no SMS, as it should be")
        return True

    def _send(self, topic: str, payload: dict[str, Any]) -> None:
        """POST one signed delivery; raises _Failed unless the server stored it."""
        assert self.store is not None and self.store.webhook_secret is not None
        body = json.dumps(payload).encode("utf-8")
        headers = {
            shopify.TOPIC_HEADER: topic,
            shopify.SHOP_DOMAIN_HEADER: self.store.shop_domain or "",
            shopify.HMAC_HEADER: shopify.sign(body, self.store.webhook_secret.get_secret_value()),
            shopify.WEBHOOK_ID_HEADER: str(uuid.uuid4()),
            shopify.API_VERSION_HEADER: API_VERSION,
            "Content-Type": "application/json",
        }
        answer = self._http("POST", "/webhooks/shopify", content=body, headers=headers)
        if answer.status_code != 200:
            raise _Failed(f"{topic} answered {answer.status_code}: {_error_of(answer)}")

    def _report(self) -> None:
        headers = {"Authorization": f"Bearer {self.settings.api_token}"}
        answer = self._http("GET", "/api/report", headers=headers)
        if answer.status_code != 200:
            raise _Failed(f"/api/report answered {answer.status_code}: {_error_of(answer)}")
        print(report_line(answer.json()), flush=True)

    def _http(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.request(method, path, follow_redirects=False, **kwargs)
        except httpx.HTTPError as exc:
            raise _Failed(f"{method} {path} failed: {type(exc).__name__}: {exc}") from None

    def _say(self, shopper: Shopper, text: str) -> None:
        print(f"[demo] shopper {shopper.number}: {text}", flush=True)


def _shopify_store(settings: Settings) -> StoreConfig | None:
    return next((s for s in settings.stores if s.platform == "shopify"), None)


def _abandon_after(settings: Settings, store: StoreConfig | None) -> float:
    flows = [f for f in settings.flows if store is not None and f.store == store.id]
    wait = flows[0].abandon_after if flows else timedelta(seconds=8)
    return wait.total_seconds()


def _error_of(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("error", answer.text))[:200]
    except ValueError:
        return answer.text[:200]
