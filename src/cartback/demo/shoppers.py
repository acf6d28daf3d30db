"""The demo's shoppers and the Shopify payloads they cause: pure functions, no I/O."""

from __future__ import annotations

import contextlib
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from cartback.domain.phone import InvalidPhone, normalize_phone

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
