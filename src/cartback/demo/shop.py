"""The demo shop's thread: sends the shoppers' webhooks, follows links, prints the report."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from cartback.config import Settings, StoreConfig
from cartback.demo.shoppers import (
    API_VERSION,
    CURRENCY,
    DELAYS,
    GIVE_UP_AFTER,
    INTRODUCTION,
    NEW_SHOPPER_EVERY,
    REPORT_EVERY,
    SCRIPTS,
    SILENCE_MARGIN,
    TICK,
    Scenario,
    Shopper,
    Stage,
    checkout_payload,
    link_path,
    new_shopper,
    order_payload,
    outbox_sms,
    pick_scenario,
    report_line,
)
from cartback.domain.redact import mask_phone
from cartback.integrations import shopify

# A shopper opens the SMS link in the phone's browser: a person's click, not a link preview's.
PHONE_BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15"
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
        answer = self._http("GET", path, headers={"User-Agent": PHONE_BROWSER})
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
        if self.store is None or self.store.webhook_secret is None:
            raise _Failed("the demo needs a shopify store with a webhook_secret")
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
