"""`cartback serve --demo`: a simulated Shopify shop that sends webhooks to this very server.

Shoppers arrive every few seconds, each with a scenario: some buy before their cart counts as
abandoned, some come back through the SMS link, some never come back, and some gave no consent
(so they must get no SMS). Payload building is pure; the thread does the I/O.
"""

from __future__ import annotations

from cartback.demo.shop import DemoShop
from cartback.demo.shoppers import (
    Scenario,
    Shopper,
    checkout_payload,
    danish_mobile,
    link_path,
    new_shopper,
    order_payload,
    outbox_sms,
    pick_scenario,
    report_line,
)

__all__ = [
    "DemoShop",
    "Scenario",
    "Shopper",
    "checkout_payload",
    "danish_mobile",
    "link_path",
    "new_shopper",
    "order_payload",
    "outbox_sms",
    "pick_scenario",
    "report_line",
]
