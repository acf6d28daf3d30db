"""A fake Twilio Messages API (2010-04-01), answering with the Message resource and error shapes.

Serves `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`. Use it as
`httpx.MockTransport(fake.handle)`.

- Auth: HTTP Basic (Account SID, Auth Token); else 401 with `{"code": 20003, ...}`.
- Validation: `To` must be E.164 (else 21211), `Body` or `MediaUrl`, and one of `From` /
  `MessagingServiceSid`; numbers in `opted_out` get 21610, in `not_mobile` 21614.
- Idempotency: a repeated `I-Twilio-Idempotency-Token` is answered with the first Message and
  nothing is sent again.
- Programmed failures, consumed one per request in order: `fail_next(500)` (Twilio's 5xx body),
  `timeout_next()`, `disconnect_next()`, `reject_next(400, code, message)`.
- `status_callback(...)` and `inbound(...)` build the form posts Twilio makes to our webhooks,
  and `sign(url, form)` their X-Twilio-Signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx

from cartback.domain.sms import analyse

IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_MORE_INFO = "https://www.twilio.com/docs/errors/{code}"


@dataclass
class _Failure:
    kind: str  # "status", "timeout", "disconnect"
    status: int = 500
    body: dict[str, Any] | None = None


@dataclass
class FakeTwilio:
    account_sid: str = "AC" + "0" * 31 + "1"
    auth_token: str = "twilio-test-auth-token-0042"
    opted_out: set[str] = field(default_factory=set)  # E.164 numbers that replied STOP
    not_mobile: set[str] = field(default_factory=set)
    requests: list[httpx.Request] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # sid -> Message resource
    forms: dict[str, dict[str, str]] = field(default_factory=dict)  # sid -> form we were sent
    _by_token: dict[str, str] = field(default_factory=dict)  # idempotency token -> sid
    _failures: deque[_Failure] = field(default_factory=deque)

    # -- programming -----------------------------------------------------------------------

    def fail_next(self, status: int = 500) -> None:
        code = 20500 if status == 500 else 20429 if status == 429 else status * 100
        body = error_body(code, "Internal Server Error", status)
        self._failures.append(_Failure("status", status, body))

    def reject_next(self, status: int, code: int, message: str) -> None:
        self._failures.append(_Failure("status", status, error_body(code, message, status)))

    def timeout_next(self) -> None:
        self._failures.append(_Failure("timeout"))

    def disconnect_next(self) -> None:
        self._failures.append(_Failure("disconnect"))

    # -- the transport ---------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self._authorised(request):
            return httpx.Response(401, json=error_body(20003, "Authenticate", 401))
        if self._failures:
            return self._fail(request, self._failures.popleft())
        if request.method != "POST" or request.url.path != self.messages_path:
            return httpx.Response(404, json=error_body(20404, "Not Found", 404))
        form = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
        token = request.headers.get(IDEMPOTENCY_HEADER)
        if token and token in self._by_token:
            return httpx.Response(201, json=self.messages[self._by_token[token]])
        return self._create(form, token)

    @property
    def messages_path(self) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    @property
    def deliveries(self) -> list[dict[str, str]]:
        """The forms of the messages that really went out, once each."""
        return list(self.forms.values())

    def _authorised(self, request: httpx.Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return bool(request.headers.get("Authorization") == f"Basic {expected}")

    def _fail(self, request: httpx.Request, failure: _Failure) -> httpx.Response:
        if failure.kind == "timeout":
            raise httpx.ReadTimeout("fake read timeout", request=request)
        if failure.kind == "disconnect":
            raise httpx.ConnectError("fake connection refused", request=request)
        return httpx.Response(failure.status, json=failure.body)

    def _create(self, form: dict[str, str], token: str | None) -> httpx.Response:
        refusal = self._refusal(form)
        if refusal is not None:
            return httpx.Response(400, json=refusal)
        sid = f"SM{len(self.messages) + 1:032x}"
        self.messages[sid] = self._resource(sid, form)
        self.forms[sid] = form
        if token:
            self._by_token[token] = sid
        return httpx.Response(201, json=self.messages[sid])

    def _refusal(self, form: dict[str, str]) -> dict[str, Any] | None:
        to = form.get("To", "")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return error_body(21603, "A 'From' or 'MessagingServiceSid' parameter is required")
        if not form.get("Body") and not form.get("MediaUrl"):
            return error_body(21602, "Message body is required.")
        if not _E164.match(to):
            return error_body(21211, f"The 'To' number {to} is not a valid phone number.")
        if to in self.opted_out:
            return error_body(21610, "Attempt to send to unsubscribed recipient")
        if to in self.not_mobile:
            return error_body(21614, f"'To' number {to} is not a valid mobile number")
        return None

    def _resource(self, sid: str, form: dict[str, str]) -> dict[str, Any]:
        service = form.get("MessagingServiceSid")
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": "Sun, 29 Nov 2026 12:00:00 +0000",
            "date_sent": None,
            "date_updated": "Sun, 29 Nov 2026 12:00:00 +0000",
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": service,
            "num_media": "1" if form.get("MediaUrl") else "0",
            "num_segments": str(analyse(form.get("Body", "")).segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {"media": f"{self.messages_path[:-5]}/{sid}/Media.json"},
            "to": form["To"],
            "uri": f"{self.messages_path[:-5]}/{sid}.json",
        }

    # -- webhooks Twilio makes to us -------------------------------------------------------

    def status_callback(
        self,
        sid: str,
        status: str,
        *,
        error_code: int | None = None,
        channel: str = "sms",
        sender: str = "+15005550006",
    ) -> dict[str, str]:
        """A status callback form; `channel="rcs"` addresses it the way RCS messages are."""
        message = self.messages.get(sid, {})
        to = str(message.get("to") or "+4520123456")
        form = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "From": f"rcs:{sender}" if channel == "rcs" else sender,
            "To": f"rcs:{to}" if channel == "rcs" else to,
        }
        if message.get("messaging_service_sid"):
            form["MessagingServiceSid"] = str(message["messaging_service_sid"])
        if error_code is not None:
            form["ErrorCode"] = str(error_code)
        return form

    def inbound(self, sender: str, body: str, *, sid: str = "SM" + "a" * 32) -> dict[str, str]:
        """An incoming-message webhook form."""
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "From": sender,
            "To": "+15005550006",
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
        }

    def sign(self, url: str, form: dict[str, str]) -> str:
        """X-Twilio-Signature, computed independently of the code under test."""
        data = url + "".join(key + form[key] for key in sorted(form))
        mac = hmac.new(self.auth_token.encode(), data.encode(), hashlib.sha1)
        return base64.b64encode(mac.digest()).decode()


def error_body(code: int, message: str, status: int = 400) -> dict[str, Any]:
    """Twilio's REST error body."""
    return {
        "code": code,
        "message": message,
        "more_info": _MORE_INFO.format(code=code),
        "status": status,
    }
