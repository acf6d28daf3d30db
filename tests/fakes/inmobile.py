"""A fake inMobile v4 API, answering in the shapes of inMobile's OpenAPI document and clients.

Serves `POST /v4/sms/outgoing` and `GET /v4/sms/incoming/messages`. Use it as
`httpx.MockTransport(fake.handle)`.

- Auth: HTTP Basic, any user name, the API key as the password; else 401 with inMobile's
  `{"errorMessage", "details"}` body.
- Idempotency: a `messageId` seen before is not sent again; the stored result is answered.
  (inMobile documents messageId as unique per account; what the live API answers for a repeat is
  not documented, see `duplicate_status`.)
- Blacklisted / cooldown numbers: accepted like the real gateway does (`respectBlacklist` blocks
  later), with a pending status report carrying errorCode -105 / -106 in `pending_reports`.
- Programmed failures, consumed one per request in order: `fail_next(500)`, `timeout_next()`,
  `disconnect_next()`, `reject_next(400, "...")`.
- Inbound: `queue_inbound(...)` adds replies; the incoming endpoint hands each out once.
"""

from __future__ import annotations

import base64
import json
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from cartback.domain.sms import analyse

OUTGOING = "/v4/sms/outgoing"
INCOMING = "/v4/sms/incoming/messages"
BLACKLISTED_ON_ACCOUNT = -105
NUMBER_COOLDOWN = -106
ERROR_DESCRIPTIONS = {  # from inMobile's ErrorCode list
    -1: "Undeliverable message",
    -2: "Msisdn blacklisted by operator",
    -3: "Invalid mobile number",
    -5: "Delivery timeout",
    -102: "Cancelled",
    -105: "Msisdn blacklisted on account",
    -106: "Mobile number cooldown",
}


@dataclass
class _Failure:
    kind: str  # "status", "timeout", "disconnect"
    status: int = 500
    body: dict[str, Any] | None = None


@dataclass
class FakeInMobile:
    api_key: str = "inmobile-test-key"
    blacklisted: set[str] = field(default_factory=set)  # msisdn digits, e.g. "4520123456"
    cooldown: set[str] = field(default_factory=set)
    duplicate_status: int = 200  # set to 400/409 to model a live API that refuses repeats
    requests: list[httpx.Request] = field(default_factory=list)
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)  # messageId -> message sent
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # messageId -> its result
    pending_reports: list[dict[str, Any]] = field(default_factory=list)
    _failures: deque[_Failure] = field(default_factory=deque)
    _inbound: deque[dict[str, Any]] = field(default_factory=deque)

    # -- programming -----------------------------------------------------------------------

    def fail_next(self, status: int = 500, error_message: str = "Internal server error") -> None:
        self._failures.append(_Failure("status", status, error_body(error_message)))

    def reject_next(self, status: int, error_message: str, *details: str) -> None:
        self._failures.append(_Failure("status", status, error_body(error_message, *details)))

    def timeout_next(self) -> None:
        self._failures.append(_Failure("timeout"))

    def disconnect_next(self) -> None:
        self._failures.append(_Failure("disconnect"))

    def queue_inbound(
        self,
        from_country_code: str | None,
        from_phone_number: str | None,
        text: str,
        *,
        received_at: datetime | None = None,
        to_msisdn: str = "4588776655",
        raw_source: str | None = None,
    ) -> None:
        valid = bool(from_country_code and from_phone_number)
        when = (received_at or datetime(2026, 11, 29, 12, 0, tzinfo=UTC)).astimezone(UTC)
        self._inbound.append(
            {
                "from": {
                    "countryCode": from_country_code,
                    "phoneNumber": from_phone_number,
                    "rawSource": raw_source or f"{from_country_code} {from_phone_number}",
                    "isValidMsisdn": valid,
                },
                "to": {
                    "countryCode": to_msisdn[:2],
                    "phoneNumber": to_msisdn[2:],
                    "msisdn": to_msisdn,
                },
                "text": text,
                "receivedAt": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )

    # -- the transport ---------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self._authorised(request):
            return httpx.Response(401, json=error_body("Unauthorized", "Invalid api key"))
        if self._failures:
            return self._fail(request, self._failures.popleft())
        if request.method == "POST" and request.url.path == OUTGOING:
            return self._send(json.loads(request.content))
        if request.method == "GET" and request.url.path == INCOMING:
            return self._incoming(int(request.url.params.get("limit", "20")))
        return httpx.Response(404, json=error_body("Not found"))

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        """The messages that really went out, once each."""
        return list(self.sent.values())

    def _authorised(self, request: httpx.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        _, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return password == self.api_key

    def _fail(self, request: httpx.Request, failure: _Failure) -> httpx.Response:
        if failure.kind == "timeout":
            raise httpx.ReadTimeout("fake read timeout", request=request)
        if failure.kind == "disconnect":
            raise httpx.ConnectError("fake connection refused", request=request)
        return httpx.Response(failure.status, json=failure.body)

    def _send(self, payload: dict[str, Any]) -> httpx.Response:
        messages = payload.get("messages") or []
        if not 1 <= len(messages) <= 250:
            return httpx.Response(400, json=error_body("Invalid request", "messages: 1-250"))
        problems = [p for m in messages for p in _problems(m)]
        if problems:
            return httpx.Response(400, json=error_body("Invalid request", *problems))
        return self._accept(messages)

    def _accept(self, messages: list[dict[str, Any]]) -> httpx.Response:
        results = []
        for message in messages:
            message_id = message["messageId"]
            if message_id in self.results:
                if self.duplicate_status != 200:
                    detail = f"MessageId '{message_id}' is already in use"
                    return httpx.Response(self.duplicate_status, json=error_body(detail))
            else:
                self._record(message_id, message)
            results.append(self.results[message_id])
        return httpx.Response(200, json={"results": results})

    def _record(self, message_id: str, message: dict[str, Any]) -> None:
        to = "".join(c for c in message["to"] if c.isdigit())
        info = analyse(message["text"])
        self.sent[message_id] = message
        self.results[message_id] = {
            "numberDetails": {
                "countryCode": to[:2],
                "phoneNumber": to[2:],
                "rawMsisdn": message["to"],
                "msisdn": to,
                "isValidMsisdn": True,
                "countryHint": message.get("countryHint"),
            },
            "text": message["text"],
            "from": message["from"],
            "smsCount": info.segments,
            "messageId": message_id,
            "encoding": str(info.encoding),
        }
        if to in self.blacklisted and message.get("respectBlacklist", True):
            self.pending_reports.append(report(message_id, -2, BLACKLISTED_ON_ACCOUNT, msisdn=to))
        elif to in self.cooldown:
            self.pending_reports.append(report(message_id, -2, NUMBER_COOLDOWN, msisdn=to))

    def _incoming(self, limit: int) -> httpx.Response:
        if not 1 <= limit <= 250:
            return httpx.Response(400, json=error_body("Invalid limit", "1-250"))
        batch = [self._inbound.popleft() for _ in range(min(limit, len(self._inbound)))]
        return httpx.Response(200, json={"messages": batch})


def error_body(error_message: str, *details: str) -> dict[str, Any]:
    """inMobile's ApiErrorMessage."""
    return {"errorMessage": error_message, "details": list(details)}


def report(
    message_id: str,
    state_code: int,
    error_code: int | None = None,
    *,
    msisdn: str = "4520123456",
    sms_count: int = 1,
    done_time: str = "2026-11-29T12:01:00Z",
) -> dict[str, Any]:
    """One item of inMobile's StatusReportListModel (`reports[]`)."""
    descriptions = {1: "Delivered", 0: "Unknown", -1: "Failed", -2: "Cancelled"}
    delivery: dict[str, Any] = {
        "stateCode": state_code,
        "stateDescription": descriptions.get(state_code, "Unknown"),
        "sendTime": "2026-11-29T12:00:00Z",
        "doneTime": done_time,
    }
    if state_code != 1:
        code = error_code if error_code is not None else -1
        delivery["errorCode"] = code
        delivery["errorDescription"] = ERROR_DESCRIPTIONS.get(code, "Unknown error")
    return {
        "messageId": message_id,
        "numberDetails": {
            "countryCode": msisdn[:2],
            "phoneNumber": msisdn[2:],
            "rawMsisdn": msisdn,
            "msisdn": msisdn,
            "isValidMsisdn": True,
            "isAnonymized": False,
        },
        "deliveryInfo": delivery,
        "chargeInfo": {"isCharged": state_code != -2, "smsCount": sms_count, "encoding": "gsm7"},
    }


def callback_body(*reports: dict[str, Any]) -> bytes:
    """The JSON body inMobile POSTs to a statusCallbackUrl."""
    return json.dumps({"reports": list(reports)}).encode()


def _problems(message: dict[str, Any]) -> list[str]:
    problems = []
    if not message.get("to") or len(message["to"]) > 20:
        problems.append("to: required, at most 20 characters")
    if not message.get("text"):
        problems.append("text: required")
    if not message.get("from"):
        problems.append("from: required")
    message_id = message.get("messageId")
    if message_id is not None and not 1 <= len(message_id) <= 50:
        problems.append("messageId: 1-50 characters")
    return problems
