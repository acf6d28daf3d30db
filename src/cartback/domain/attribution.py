"""Which message, if any, earned an order.

The last message clicked within the click window wins; failing that, the last message sent within
the (shorter) send window. Anything else is an order the shop would have had anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cartback.domain.records import MessageTouch


class Basis(StrEnum):
    CLICK = "click"
    SEND = "send"


Touch = MessageTouch  # a message that went out, with its latest click


@dataclass(frozen=True, slots=True)
class Attribution:
    message_id: str
    basis: Basis


def attribute(
    order_at: datetime,
    touches: Iterable[Touch],
    click_window: timedelta,
    send_window: timedelta,
) -> Attribution | None:
    touches = list(touches)
    clicked = [
        t for t in touches if t.clicked_at and order_at - click_window <= t.clicked_at <= order_at
    ]
    if clicked:
        best = max(clicked, key=lambda t: t.clicked_at or t.sent_at)
        return Attribution(best.message_id, Basis.CLICK)
    sent = [t for t in touches if order_at - send_window <= t.sent_at <= order_at]
    if sent:
        return Attribution(max(sent, key=lambda t: t.sent_at).message_id, Basis.SEND)
    return None
