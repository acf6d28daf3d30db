"""Telling the shop owner of a checkout stage alert: a JSON POST to `alerts.webhook_url`, an
email to `alerts.email` through the configured email channel. A failure is logged, never raised:
the alert is recorded and in the API all the same."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from cartback.channels.base import Gateway, OutgoingMessage
from cartback.domain.checkout import Alert
from cartback.domain.events import Channel

log = logging.getLogger("cartback.diagnostics")
TIMEOUT = 10.0


def alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "type": "checkout_stage_alert",
        "store": alert.store_id,
        "stage": alert.stage,
        "day": alert.day,
        "raised_at": alert.raised_at.isoformat(),
        "carts": alert.carts,
        "abandoned": alert.total,
        "share": round(alert.share, 4),
        "baseline": round(alert.baseline, 4),
        "z": alert.z,
        "detail": alert.detail,
    }


class AlertNotifier:
    def __init__(
        self,
        webhook_url: str | None,
        email: str | None,
        email_gateway: Gateway | None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.webhook_url = webhook_url
        self.email = email
        self.email_gateway = email_gateway
        self.transport = transport

    def __call__(self, alert: Alert) -> None:
        if self.webhook_url:
            self._post(alert)
        if self.email and self.email_gateway is not None:
            self._mail(alert, self.email_gateway, self.email)

    def _post(self, alert: Alert) -> None:
        try:
            with httpx.Client(transport=self.transport, timeout=TIMEOUT) as client:
                client.post(self.webhook_url or "", json=alert_json(alert)).raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("alert webhook failed", extra={"store": alert.store_id, "error": str(exc)})

    def _mail(self, alert: Alert, gateway: Gateway, to: str) -> None:
        message = OutgoingMessage(
            id=f"alert-{alert.store_id}-{alert.stage}-{alert.day}",
            channel=Channel.EMAIL,
            to=to,
            sender=None,
            text=alert.detail,
            subject=f"cartback: carts of {alert.store_id} stop at {alert.stage.replace('_', ' ')}",
        )
        result = gateway.send(message)
        if result.status != "sent":
            log.warning("alert email not sent", extra={"store": alert.store_id})
