"""Shopify's CSV exports of abandoned checkouts and of orders, as the backtest reads them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cartback.csv_files import CsvFileError
from cartback.domain.events import CartUpdated, OrderPlaced
from cartback.domain.orders import OrderStatus
from cartback.history.backtest import run_backtest
from cartback.history.files import read_events
from cartback.history.shopify_csv import read_checkouts_csv, read_orders_csv
from tests.unit.history.world import settings

CHECKOUTS = """\ufeffId,Name,Email,Accepts Marketing,Accepts SMS Marketing,Currency,Subtotal,\
Total,Created at,Updated at,Completed at,Lineitem quantity,Lineitem name,Lineitem price,\
Lineitem sku,Billing Name,Billing Phone,Phone,Abandoned Checkout URL,Risk Level
3001,#C3001,Ann@Example.com,yes,yes,DKK,398.00,398.00,2026-11-02 12:00:00 +0100,\
2026-11-02 12:05:00 +0100,,1,Mug,199.00,MUG-1,Ann Berg,,+4520123456,\
https://acme.example/3001/recover,Low
3001,,,,,,,,,,,1,Plate,199.00,PL-1,,,,,
3002,#C3002,bo@example.com,no,no,DKK,99.00,99.00,2026-11-02 13:00:00 +0100,,,1,Cup,99.00,,\
Bo Lund,20 12 34 57,,https://acme.example/3002/recover,Low
"""

ORDERS = """Name,Email,Financial Status,Paid at,Currency,Subtotal,Total,Discount Code,\
Discount Amount,Created at,Lineitem quantity,Lineitem name,Lineitem price,Billing Phone,\
Cancelled at,Refunded Amount,Id,Phone,Tags
#1001,ann@example.com,partially_refunded,2026-11-02 14:00:00 +0100,DKK,398.00,398.00,SAVE10,\
10.00,2026-11-02 14:00:00 +0100,1,Mug,199.00,,,50.00,5001,,vip
#1001,,,,,,,,,,1,Plate,199.00,,,,,,
#1002,bo@example.com,voided,,DKK,99.00,99.00,,0,2026-11-02 15:00:00 +0100,1,Cup,99.00,,\
2026-11-02 16:00:00 +0100,0,5002,,
"""


def test_checkouts_one_cart_each_with_its_line_items() -> None:
    [ann, bo] = [e.events[0] for e in read_checkouts_csv(CHECKOUTS, "gen", "DK")]
    assert isinstance(ann, CartUpdated) and isinstance(bo, CartUpdated)
    assert ann.cart_key == "3001" and ann.occurred_at.isoformat() == "2026-11-02T11:05:00+00:00"
    assert ann.customer.email == "ann@example.com" and ann.customer.phone == "+4520123456"
    assert ann.customer.first_name == "Ann"
    assert (ann.consent.sms, ann.consent.email) == (True, True)
    assert [i.title for i in ann.items] == ["Mug", "Plate"] and ann.total == Decimal("398.00")
    assert ann.recovery_url == "https://acme.example/3001/recover"
    assert bo.occurred_at.isoformat() == "2026-11-02T12:00:00+00:00"  # no Updated at: Created
    assert bo.customer.phone == "+4520123457"  # the billing phone, read in the store's country
    assert (bo.consent.sms, bo.consent.email) == (False, False)


def test_orders_one_each_with_status_refunds_and_discount() -> None:
    [ann, bo] = [e.events[0] for e in read_orders_csv(ORDERS, "gen", "DK")]
    assert isinstance(ann, OrderPlaced) and isinstance(bo, OrderPlaced)
    assert (ann.order_key, ann.total, ann.paid) == ("5001", Decimal("398.00"), True)
    assert ann.discount_codes == ("SAVE10",) and ann.discount_total == Decimal("10.00")
    assert [r.amount for r in ann.refunds] == [Decimal("50.00")]
    assert bo.status == OrderStatus.CANCELLED and not bo.paid


def test_a_missing_needed_column_is_named() -> None:
    text = "Id,Email,Currency,Total\n1,a@example.com,DKK,1.00\n"
    with pytest.raises(CsvFileError, match=r"the header lacks the column\(s\) created at"):
        read_checkouts_csv(text, "gen", "DK", "checkouts.csv")
    with pytest.raises(CsvFileError, match=r"orders\.csv line 2: total: 'abc' is not an amount"):
        read_orders_csv(
            "Name,Email,Currency,Total,Created at\n#1,a@x.dk,DKK,abc,2026-11-02T10:00:00Z\n",
            "gen",
            "DK",
            "orders.csv",
        )


def test_a_backtest_over_both_exports(tmp_path: Path) -> None:
    config = settings(tmp_path)
    (tmp_path / "checkouts.csv").write_text(CHECKOUTS)
    (tmp_path / "orders.csv").write_text(ORDERS)
    events = read_events(tmp_path / "checkouts.csv", config)
    events += read_events(tmp_path / "orders.csv", config)
    result = run_backtest(config, events)

    [store] = result.stores
    assert (store.carts, store.abandoned) == (2, 2)
    [flow] = [f.as_json() for f in store.flows]
    assert flow["messages_by_step"] == {"step 1 sms": 1}  # Bo gave no SMS consent
    assert flow["skipped"]["no_consent"] == 1
    # Ann's order came within the send window: recovered, less its refund
    assert flow["orders_recovered"] == 1
    assert flow["recovered_revenue_upper_bound"] == "348.00"
