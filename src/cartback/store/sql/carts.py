"""Carts: written from platform updates, matched by orders, read by the policy and the API."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, Unpack

from sqlalchemy import Connection, bindparam, func, or_, select, update

from cartback.domain.records import (
    LIVE_CART,
    Cart,
    CartContents,
    CartSearch,
    CartStatus,
    item_from_json,
    item_json,
)
from cartback.store.base import CartChanges
from cartback.store.sql.common import (
    among,
    insert_ignoring_duplicates,
    paged,
    person,
    same_person,
    same_person_by,
)
from cartback.store.sql.direct import execute
from cartback.store.tables import carts
from cartback.store.types import AnyRow

_LIVE = [str(status) for status in LIVE_CART]
_FOR_UPDATE = select(carts).where(carts.c.id == bindparam("id")).with_for_update()
_CHANGE = update(carts).where(carts.c.id == bindparam("cart_id"))  # set: the keys given
# A delivery's contents, in statements built once (set or inserted: the keys given), where a
# statement made per call cost more of a webhook's CPU than its execution.
_UPDATE_CONTENTS = _CHANGE.values(update_count=carts.c.update_count + 1)
_FIND = select(carts).where(
    carts.c.store_id == bindparam("store_id"), carts.c.cart_key == bindparam("cart_key")
)


@cache
def _upsert(dialect: str) -> Any:
    return insert_ignoring_duplicates(dialect, carts).returning(*carts.c)


@cache
def _newer_live(email: bool, phone: bool) -> Any:
    """Built once per shape (who is known): it is asked before every send."""
    return (
        select(carts.c.id)
        .where(
            carts.c.store_id == bindparam("store_id"),
            carts.c.id != bindparam("id"),
            among(carts.c.status, _LIVE),
            carts.c.last_activity_at > bindparam("since"),
            same_person_by(carts, email, phone),
        )
        .limit(1)
    )


@cache
def _abandonments(email: bool, phone: bool) -> Any:
    """The person's other carts' abandonment times, None for one never abandoned (the caller
    drops those): a condition on `abandoned_at` here would let statistics that saw few
    abandoned carts choose the store's abandonment index and read all of them."""
    return select(carts.c.abandoned_at).where(
        carts.c.store_id == bindparam("store_id"),
        carts.c.id != bindparam("id"),
        same_person_by(carts, email, phone),
    )


class SqlCarts:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, cart_id: int) -> Cart | None:
        return self._one(select(carts).where(carts.c.id == cart_id))

    def get_for_update(self, cart_id: int) -> Cart | None:
        row = execute(self.conn, _FOR_UPDATE, {"id": cart_id}).first()
        return cart_from(row) if row is not None else None

    def find(self, store_id: str, cart_key: str) -> Cart | None:
        row = execute(self.conn, _FIND, {"store_id": store_id, "cart_key": cart_key}).first()
        return cart_from(row) if row is not None else None

    def find_for_delete(
        self, store_id: str, cart_key: str | None, cart_token: str | None
    ) -> Cart | None:
        if cart_key:
            return self.find(store_id, cart_key)
        if not cart_token:
            return None
        return self._one(
            select(carts)
            .where(carts.c.store_id == store_id, carts.c.cart_token == cart_token)
            .order_by(carts.c.updated_at.desc())
            .limit(1)
        )

    def upsert(self, contents: CartContents, now: datetime) -> tuple[Cart, bool]:
        """INSERT … ON CONFLICT DO NOTHING, then the winner: two deliveries for one new cart
        at once never collide on (store_id, cart_key)."""
        values = {
            **contents_values(contents),
            "status": str(CartStatus.OPEN),
            "created_at": now,
            "updated_at": now,
        }
        inserted = execute(self.conn, _upsert(self.conn.dialect.name), values).first()
        if inserted is not None:
            return cart_from(inserted), True
        winner = self.find(contents.store_id, contents.cart_key)
        if winner is None:
            raise LookupError(f"cart {contents.cart_key!r} of store {contents.store_id!r} vanished")
        return winner, False

    def update_contents(self, cart_id: int, contents: CartContents, now: datetime) -> None:
        values = contents_values(contents) | {"cart_id": cart_id, "updated_at": now}
        execute(self.conn, _UPDATE_CONTENTS, values)

    def change(self, cart_id: int, **changes: Unpack[CartChanges]) -> None:
        values: dict[str, Any] = dict(changes)
        if "status" in values:
            values["status"] = str(values["status"])
        execute(self.conn, _CHANGE, {"cart_id": cart_id} | values)

    def match_for_order(
        self,
        store_id: str,
        *,
        checkout_token: str | None,
        cart_token: str | None,
        customer_id: str | None,
        email: str | None,
        phone: str | None,
        since: datetime,
    ) -> Cart | None:
        for column, value in ((carts.c.cart_key, checkout_token), (carts.c.cart_token, cart_token)):
            if value:
                found = self._one(
                    select(carts)
                    .where(carts.c.store_id == store_id, column == value)
                    .order_by(carts.c.updated_at.desc())
                    .limit(1)
                )
                if found is not None:
                    return found
        same = same_person(carts, email, phone)
        if customer_id:
            by_id = carts.c.customer_external_id == customer_id
            same = by_id if same is None else (by_id | same)
        if same is None:
            return None
        return self._one(
            select(carts)
            .where(
                carts.c.store_id == store_id,
                carts.c.status.in_(_LIVE),
                carts.c.last_activity_at >= since,
                same,
            )
            .order_by(carts.c.last_activity_at.desc())
            .limit(1)
        )

    def newer_live_cart_exists(self, cart: Cart) -> bool:
        known = person(cart.email, cart.phone)
        if not known:
            return False
        query = _newer_live("email" in known, "phone" in known)
        values = {"store_id": cart.store_id, "id": cart.id, "since": cart.last_activity_at}
        return self.conn.execute(query, values | known).first() is not None

    def abandonments(self, cart: Cart) -> list[datetime]:
        known = person(cart.email, cart.phone)
        if not known:
            return []
        query = _abandonments("email" in known, "phone" in known)
        rows = self.conn.execute(query, {"store_id": cart.store_id, "id": cart.id} | known)
        return [row.abandoned_at for row in rows if row.abandoned_at is not None]

    def stores_knowing_phone(self, phone: str) -> list[str]:
        rows = self.conn.execute(select(carts.c.store_id).where(carts.c.phone == phone).distinct())
        return sorted(row.store_id for row in rows)

    def page(
        self,
        *,
        store_id: str | None,
        status: str | None,
        limit: int,
        offset: int,
        after: int | None = None,
    ) -> list[Cart]:
        query = paged(
            select(carts),
            carts,
            "updated_at",
            store_id=store_id,
            status=status,
            limit=limit,
            offset=offset,
            after=after,
        )
        return [cart_from(row) for row in self.conn.execute(query)]

    def search(self, query: CartSearch, *, limit: int, offset: int) -> list[Cart]:
        found = select(carts).where(carts.c.store_id.in_(query.store_ids))
        if query.status:
            found = found.where(carts.c.status == query.status)
        if query.text and query.text.strip():
            text = query.text.strip()
            pattern = "%" + _escape_like(text.lower()) + "%"
            searched = (carts.c.email, carts.c.phone, carts.c.first_name, carts.c.last_name)
            found = found.where(
                or_(
                    carts.c.cart_key == text,
                    *(func.lower(column).like(pattern, escape="\\") for column in searched),
                )
            )
        if query.since is not None:
            found = found.where(carts.c.updated_at >= query.since)
        if query.until is not None:
            found = found.where(carts.c.updated_at < query.until)
        found = found.order_by(carts.c.updated_at.desc(), carts.c.id.desc())
        return [cart_from(row) for row in self.conn.execute(found.limit(limit).offset(offset))]

    def for_address(self, address: str, limit: int) -> list[Cart]:
        column = carts.c.email if "@" in address else carts.c.phone
        query = (
            select(carts)
            .where(column == address)
            .order_by(carts.c.updated_at.desc(), carts.c.id.desc())
            .limit(limit)
        )
        return [cart_from(row) for row in self.conn.execute(query)]

    def _one(self, query: Any, values: dict[str, Any] | None = None) -> Cart | None:
        row = self.conn.execute(query, values).first()
        return cart_from(row) if row is not None else None


def contents_values(contents: CartContents) -> dict[str, Any]:
    return {
        "store_id": contents.store_id,
        "cart_key": contents.cart_key,
        "cart_token": contents.cart_token,
        "customer_external_id": contents.customer_external_id,
        "email": contents.email,
        "phone": contents.phone,
        "phone_raw": contents.phone_raw,
        "first_name": contents.first_name,
        "last_name": contents.last_name,
        "country": contents.country,
        "currency": contents.currency,
        "total": contents.total,
        "items": [item_json(item) for item in contents.items],
        "discount_codes": list(contents.discount_codes),
        "recovery_url": contents.recovery_url,
        "sms_consent": contents.sms_consent,
        "email_consent": contents.email_consent,
        "occurred_at": contents.occurred_at,
        "last_activity_at": contents.last_activity_at,
        "customer_orders_count": contents.customer_orders_count,
        "customer_total_spent": contents.customer_total_spent,
        "customer_tags": list(contents.customer_tags),
        "phone_source": contents.phone_source,
        "locale": contents.locale,
        "store_currency": contents.store_currency,
        "store_total": contents.store_total,
        "checkout_stage": contents.checkout_stage,
        "source_name": contents.source_name,
        "landing_site": contents.landing_site,
        "referring_site": contents.referring_site,
    }


def cart_from(row: AnyRow) -> Cart:
    return Cart(
        id=row.id,
        store_id=row.store_id,
        cart_key=row.cart_key,
        cart_token=row.cart_token,
        customer_external_id=row.customer_external_id,
        email=row.email,
        phone=row.phone,
        phone_raw=row.phone_raw,
        first_name=row.first_name,
        last_name=row.last_name,
        country=row.country,
        currency=row.currency,
        total=row.total,
        items=tuple(item_from_json(item) for item in row.items or ()),
        discount_codes=tuple(row.discount_codes or ()),
        recovery_url=row.recovery_url,
        sms_consent=row.sms_consent,
        email_consent=row.email_consent,
        occurred_at=row.occurred_at,
        last_activity_at=row.last_activity_at,
        customer_orders_count=row.customer_orders_count,
        customer_total_spent=row.customer_total_spent,
        customer_tags=tuple(row.customer_tags or ()),
        phone_source=row.phone_source,
        locale=row.locale,
        store_currency=row.store_currency,
        store_total=row.store_total,
        checkout_stage=row.checkout_stage,
        source_name=row.source_name,
        landing_site=row.landing_site,
        referring_site=row.referring_site,
        status=CartStatus(row.status),
        update_count=row.update_count,
        created_at=row.created_at,
        updated_at=row.updated_at,
        abandoned_at=row.abandoned_at,
        purchased_at=row.purchased_at,
        deleted_at=row.deleted_at,
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
