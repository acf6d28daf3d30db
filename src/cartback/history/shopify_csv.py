"""Shopify's admin CSV exports as past events: abandoned checkouts, and orders.

Both exports have one row per line item; the rows of one checkout (or order) share its `Id`
(`Name` for orders) and only the first carries the rest. Headers are matched without regard to
case or order; other columns are ignored. A missing needed column is one clear error naming it.

Abandoned checkouts (Orders → Abandoned checkouts → Export), columns read:
  needed   Id, Created at, Currency, Total, Email
  optional Updated at (the event's time; else Created at), Phone, Billing Phone, Shipping Phone,
           Billing Name (its first word is the first name), Accepts Marketing (email consent),
           Accepts SMS Marketing (SMS consent), Abandoned Checkout URL (the recovery link),
           Lineitem name, Lineitem quantity, Lineitem price, Lineitem sku
Orders (Orders → Export), columns read:
  needed   Name, Created at, Currency, Total, Email
  optional Id (the order's key; else Name), Phone, Billing Phone, Financial Status (paid,
           refunded, partially_refunded, voided, ...), Cancelled at, Refunded Amount,
           Discount Code, Discount Amount

Consent: without an `Accepts SMS Marketing` column nobody has SMS consent, as live.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation

from cartback.csv_files import CsvFileError, csv_rows
from cartback.domain.emails import normalize_email
from cartback.domain.events import CartUpdated, Consent, Customer, Event, LineItem, OrderPlaced
from cartback.domain.orders import WHOLE_ORDER, OrderStatus, Refund
from cartback.domain.phone import choose_phone
from cartback.history.events import HistoryEvent, aware_instant

CHECKOUT_COLUMNS = ("id", "created at", "currency", "total", "email")
ORDER_COLUMNS = ("name", "created at", "currency", "total", "email")
_YES = frozenset({"yes", "true", "1", "subscribed"})
_STATUS = {
    "voided": OrderStatus.VOIDED,
    "refunded": OrderStatus.REFUNDED,
    "failed": OrderStatus.FAILED,
}
Row = dict[str, str]


def is_orders_export(text: str) -> bool:
    """An orders export names its orders (`Name`, `Financial Status`); a checkouts one not."""
    header = {name.strip().lower() for name in next(csv.reader(io.StringIO(text)), [])}
    return "financial status" in header


def read_checkouts_csv(
    text: str, store_id: str, country: str | None, name: str = "checkouts"
) -> list[HistoryEvent]:
    """One `CartUpdated` per abandoned checkout."""
    groups = _groups(text, CHECKOUT_COLUMNS, "id", name)
    return _events(groups, name, lambda rows: _checkout(rows, store_id, country))


def read_orders_csv(
    text: str, store_id: str, country: str | None, name: str = "orders"
) -> list[HistoryEvent]:
    """One `OrderPlaced` per order; it finds its cart by email or phone, as live does."""
    groups = _groups(text, ORDER_COLUMNS, "name", name)
    return _events(groups, name, lambda rows: _order(rows, store_id, country))


def _groups(text: str, needed: tuple[str, ...], key: str, name: str) -> dict[str, list[Row]]:
    reader = csv_rows(text, needed, f"{name} line 1")
    groups: dict[str, list[Row]] = {}
    for row in reader:
        cells = {column: (value or "").strip() for column, value in row.items() if column}
        if any(cells.values()):
            cells["line"] = str(reader.line_num)
            groups.setdefault(cells[key], []).append(cells)
    return groups


def _events(
    groups: dict[str, list[Row]], name: str, make: Callable[[list[Row]], HistoryEvent]
) -> list[HistoryEvent]:
    problems, found = [], []
    for rows in groups.values():
        try:
            found.append(make(rows))
        except ValueError as exc:
            problems.append(f"{name} line {rows[0]['line']}: {exc}")
    if problems:
        raise CsvFileError(problems)
    return found


def _first(rows: list[Row], column: str) -> str:
    """The first non-empty cell of a column among a group's rows ('' when none)."""
    return next((row[column] for row in rows if row.get(column)), "")


def _cell(rows: list[Row], column: str, read: Callable[[str], object]) -> object:
    try:
        return read(_first(rows, column))
    except ValueError as exc:
        raise ValueError(f"{column}: {exc}") from None


def _amount(text: str) -> Decimal:
    try:
        return Decimal(text.replace(",", "")) if text else Decimal("0")
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount") from None


def _time(rows: list[Row], *columns: str) -> datetime:
    column = next((c for c in columns if _first(rows, c)), columns[-1])
    moment = _cell(rows, column, aware_instant)
    if not isinstance(moment, datetime):
        raise ValueError(f"{column}: missing")
    return moment


def _money(rows: list[Row], column: str) -> Decimal:
    found = _cell(rows, column, _amount)
    return found if isinstance(found, Decimal) else Decimal("0")


def _customer(rows: list[Row], country: str | None) -> Customer:
    phones = [(c, _first(rows, c) or None) for c in ("phone", "billing phone", "shipping phone")]
    phone = choose_phone(phones, country)
    names = _first(rows, "billing name").split()
    return Customer(
        email=normalize_email(_first(rows, "email") or None),
        phone=phone.e164,
        phone_raw=phone.raw,
        phone_source=phone.source,
        first_name=names[0] if names else None,
    )


def _checkout(rows: list[Row], store_id: str, country: str | None) -> HistoryEvent:
    key = _first(rows, "id")
    at = _time(rows, "updated at", "created at")
    items = tuple(
        LineItem(
            row["lineitem name"],
            int(row.get("lineitem quantity") or 1),
            _amount(row.get("lineitem price", "")),
            sku=row.get("lineitem sku") or None,
        )
        for row in rows
        if row.get("lineitem name")
    )
    event = CartUpdated(
        store_id=store_id,
        cart_key=key,
        occurred_at=at,
        currency=_first(rows, "currency").upper(),
        total=_money(rows, "total"),
        customer=_customer(rows, country),
        consent=Consent(
            sms=_first(rows, "accepts sms marketing").lower() in _YES,
            email=_first(rows, "accepts marketing").lower() in _YES,
        ),
        recovery_url=_first(rows, "abandoned checkout url") or None,
        items=items,
    )
    return _history(event, store_id, f"checkout:{key}:{at.isoformat()}")


def _order(rows: list[Row], store_id: str, country: str | None) -> HistoryEvent:
    key = _first(rows, "id") or _first(rows, "name")
    financial = _first(rows, "financial status").lower()
    refunded = _money(rows, "refunded amount")
    status = _STATUS.get(financial, OrderStatus.OPEN)
    if _first(rows, "cancelled at"):
        status = OrderStatus.CANCELLED
    codes = _first(rows, "discount code")
    event = OrderPlaced(
        store_id=store_id,
        order_key=key,
        occurred_at=_time(rows, "created at"),
        currency=_first(rows, "currency").upper(),
        total=_money(rows, "total"),
        customer=_customer(rows, country),
        paid=financial in ("paid", "partially_refunded"),
        discount_codes=tuple(code.strip() for code in codes.split(",") if code.strip()),
        discount_total=_money(rows, "discount amount"),
        status=status,
        refunds=(Refund(WHOLE_ORDER, refunded),) if refunded > 0 else (),
    )
    return _history(event, store_id, f"order:{key}")


def _history(event: Event, store_id: str, key: str) -> HistoryEvent:
    return HistoryEvent(event.occurred_at, store_id, key, events=(event,), origin="shopify-csv")
