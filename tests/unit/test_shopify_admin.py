"""Recovery discount codes through Shopify's GraphQL Admin API, against a fake Shopify."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest

from cartback.integrations.shopify_admin import (
    CODE_ALPHABET,
    DiscountError,
    DiscountRejected,
    DiscountUnavailable,
    ShopifyAdmin,
    make_code,
)
from tests.fakes.shopify_admin import TAKEN_MESSAGE, FakeShopifyAdmin

STARTS = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ENDS = STARTS + timedelta(days=3)


@pytest.fixture
def fake() -> FakeShopifyAdmin:
    return FakeShopifyAdmin()


def admin_for(fake: FakeShopifyAdmin, token: str | None = None, **kwargs: Any) -> ShopifyAdmin:
    return ShopifyAdmin(
        fake.shop_domain,
        token or fake.access_token,
        transport=httpx.MockTransport(fake.handle),
        **kwargs,
    )


def create(admin: ShopifyAdmin, **changes: Any) -> str:
    values: dict[str, Any] = {
        "code": "BACK-7KQ2-M9XD",
        "title": "Cart recovery 10%",
        "percentage": Decimal("10"),
        "amount": None,
        "currency": None,
        "starts_at": STARTS,
        "ends_at": ENDS,
    }
    values.update(changes)
    return admin.create_recovery_code(**values)


def sent_discount(fake: FakeShopifyAdmin) -> dict[str, Any]:
    discount: dict[str, Any] = fake.last_body["variables"]["basicCodeDiscount"]
    return discount


# --- the request ------------------------------------------------------------------------------


def test_posts_the_mutation_to_the_shops_graphql_endpoint_with_the_token(
    fake: FakeShopifyAdmin,
) -> None:
    create(admin_for(fake))

    request = fake.requests[-1]
    assert request.method == "POST"
    assert str(request.url) == "https://acme.myshopify.com/admin/api/2026-04/graphql.json"
    assert request.headers["X-Shopify-Access-Token"] == fake.access_token
    assert request.headers["Content-Type"] == "application/json"
    query = fake.last_body["query"]
    assert "discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount)" in query
    assert "userErrors { field code message }" in query


def test_the_code_is_single_use_for_everyone_on_every_item(fake: FakeShopifyAdmin) -> None:
    create(admin_for(fake))

    discount = sent_discount(fake)
    assert discount["code"] == "BACK-7KQ2-M9XD"
    assert discount["title"] == "Cart recovery 10%"
    assert discount["usageLimit"] == 1
    assert discount["appliesOncePerCustomer"] is True
    assert discount["context"] == {"all": "ALL"}
    assert "customerSelection" not in discount
    assert discount["customerGets"]["items"] == {"all": True}
    assert discount["combinesWith"]["orderDiscounts"] is False


def test_dates_are_sent_as_utc_iso_8601(fake: FakeShopifyAdmin) -> None:
    copenhagen = timezone(timedelta(hours=1))
    create(admin_for(fake), starts_at=STARTS.astimezone(copenhagen))

    discount = sent_discount(fake)
    assert discount["startsAt"] == "2026-11-29T12:00:00Z"
    assert discount["endsAt"] == "2026-12-02T12:00:00Z"


def test_a_percentage_is_sent_as_a_float_fraction(fake: FakeShopifyAdmin) -> None:
    create(admin_for(fake), percentage=Decimal("15"))

    assert sent_discount(fake)["customerGets"]["value"] == {"percentage": 0.15}


def test_a_fixed_amount_is_sent_as_a_decimal_string_off_the_order(fake: FakeShopifyAdmin) -> None:
    create(admin_for(fake), percentage=None, amount=Decimal("50.00"), currency="DKK")

    value = sent_discount(fake)["customerGets"]["value"]
    assert value == {"discountAmount": {"amount": "50.00", "appliesOnEachItem": False}}


def test_versions_before_2025_10_get_the_old_customer_selection(fake: FakeShopifyAdmin) -> None:
    fake.api_version = "2025-07"
    create(admin_for(fake, api_version="2025-07"))

    discount = sent_discount(fake)
    assert discount["customerSelection"] == {"all": True}
    assert "context" not in discount


def test_base_url_overrides_the_shop_host(fake: FakeShopifyAdmin) -> None:
    create(admin_for(fake, base_url="http://127.0.0.1:9999/"))

    assert str(fake.requests[-1].url) == "http://127.0.0.1:9999/admin/api/2026-04/graphql.json"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"percentage": None}, "exactly one"),
        ({"amount": Decimal("5"), "currency": "DKK"}, "exactly one"),
        ({"percentage": Decimal("0")}, "above 0"),
        ({"percentage": Decimal("120")}, "at most 100"),
        ({"percentage": None, "amount": Decimal("5"), "currency": None}, "currency"),
        ({"percentage": None, "amount": Decimal("-5"), "currency": "DKK"}, "above 0"),
        ({"starts_at": datetime(2026, 11, 29, 12, 0)}, "aware"),
    ],
)
def test_bad_arguments_are_refused_before_calling_shopify(
    fake: FakeShopifyAdmin, changes: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        create(admin_for(fake), **changes)
    assert fake.requests == []


# --- the answer -------------------------------------------------------------------------------


def test_returns_the_created_code_and_shopify_records_it(fake: FakeShopifyAdmin) -> None:
    assert create(admin_for(fake)) == "BACK-7KQ2-M9XD"

    created = fake.discounts["BACK-7KQ2-M9XD"]
    assert created["id"].startswith("gid://shopify/DiscountCodeNode/")
    assert created["usageLimit"] == 1


def test_a_taken_code_is_rejected_naming_the_field_and_shopifys_message(
    fake: FakeShopifyAdmin,
) -> None:
    fake.existing_codes.add("back-7kq2-m9xd")

    with pytest.raises(DiscountRejected) as caught:
        create(admin_for(fake))

    assert "basicCodeDiscount.code" in str(caught.value)
    assert TAKEN_MESSAGE in str(caught.value)
    assert caught.value.code_taken
    assert caught.value.user_errors[0].field == ("basicCodeDiscount", "code")


def test_the_same_code_twice_is_taken_the_second_time(fake: FakeShopifyAdmin) -> None:
    admin = admin_for(fake)
    create(admin)

    with pytest.raises(DiscountRejected, match="Code must be unique"):
        create(admin)


def test_an_end_before_the_start_is_rejected_naming_ends_at(fake: FakeShopifyAdmin) -> None:
    with pytest.raises(DiscountRejected) as caught:
        create(admin_for(fake), ends_at=STARTS - timedelta(hours=1))

    assert "basicCodeDiscount.endsAt" in str(caught.value)
    assert not caught.value.code_taken


def test_http_429_is_retried_after_its_retry_after(fake: FakeShopifyAdmin) -> None:
    fake.throttle_next()

    assert create(admin_for(fake, timer=fake.timer)) == "BACK-7KQ2-M9XD"

    assert fake.timer.sleeps == [2.0]
    assert len(fake.requests) == 2


def test_http_429_with_a_longer_wait_than_allowed_is_unavailable(fake: FakeShopifyAdmin) -> None:
    fake.throttle_next()

    with pytest.raises(DiscountUnavailable) as caught:
        create(admin_for(fake, timer=fake.timer, max_wait=1.0))

    assert caught.value.status == 429
    assert caught.value.retry_after == 2.0
    assert fake.timer.sleeps == []


def test_a_throttled_graphql_answer_is_retried_after_the_wait_from_its_cost(
    fake: FakeShopifyAdmin,
) -> None:
    fake.throttle_next(graphql=True)

    assert create(admin_for(fake, timer=fake.timer)) == "BACK-7KQ2-M9XD"

    # 10 points requested, 4 available, 100 restored per second
    assert fake.timer.sleeps == [pytest.approx(0.06)]
    assert list(fake.discounts) == ["BACK-7KQ2-M9XD"]


def test_throttled_on_every_attempt_is_unavailable_with_the_wait(fake: FakeShopifyAdmin) -> None:
    for _ in range(4):
        fake.throttle_next(graphql=True)

    with pytest.raises(DiscountUnavailable, match="throttled") as caught:
        create(admin_for(fake, timer=fake.timer))

    assert caught.value.retry_after == pytest.approx(0.06)
    assert len(fake.timer.sleeps) == 3
    assert fake.discounts == {}


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_unavailable(fake: FakeShopifyAdmin, status: int) -> None:
    fake.fail_next(status)

    with pytest.raises(DiscountUnavailable, match=f"HTTP {status}"):
        create(admin_for(fake))


def test_a_timeout_is_unavailable(fake: FakeShopifyAdmin) -> None:
    fake.timeout_next()

    with pytest.raises(DiscountUnavailable, match="timeout"):
        create(admin_for(fake))


def test_a_refused_token_is_an_error_that_does_not_repeat_the_token(
    fake: FakeShopifyAdmin,
) -> None:
    wrong = "shpat_wrong_token_ffffffffffffffffffff"

    with pytest.raises(DiscountError) as caught:
        create(admin_for(fake, token=wrong))

    assert not isinstance(caught.value, DiscountUnavailable)
    assert caught.value.status == 401
    assert "access token" in str(caught.value)
    assert "acme.myshopify.com" in str(caught.value)
    assert wrong not in str(caught.value)
    assert wrong not in repr(admin_for(fake, token=wrong))


def test_a_missing_scope_is_an_error_naming_the_scope(fake: FakeShopifyAdmin) -> None:
    fake.fail_next(403)

    with pytest.raises(DiscountError, match="write_discounts") as caught:
        create(admin_for(fake))
    assert not isinstance(caught.value, DiscountUnavailable)


def test_top_level_graphql_errors_are_errors(fake: FakeShopifyAdmin) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        body = {"errors": [{"message": "Access denied", "extensions": {"code": "ACCESS_DENIED"}}]}
        return httpx.Response(200, json=body)

    admin = ShopifyAdmin("acme.myshopify.com", "t", transport=httpx.MockTransport(handle))
    with pytest.raises(DiscountError, match="ACCESS_DENIED: Access denied") as caught:
        create(admin)
    assert not isinstance(caught.value, DiscountUnavailable | DiscountRejected)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>maintenance</html>",
        b'{"data": {"discountCodeBasicCreate": {"codeDiscountNode": null}}}',
        b'{"data": {"discountCodeBasicCreate": {"codeDiscountNode": null, "userErrors": []}}}',
        b'{"data": null}',
    ],
)
def test_unreadable_answers_are_errors(body: bytes) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    admin = ShopifyAdmin("acme.myshopify.com", "t", transport=httpx.MockTransport(handle))
    with pytest.raises(DiscountError) as caught:
        create(admin)
    assert not isinstance(caught.value, DiscountUnavailable | DiscountRejected)


# --- codes ------------------------------------------------------------------------------------


def test_made_codes_are_typable_and_distinct() -> None:
    codes = {make_code() for _ in range(2000)}

    assert len(codes) == 2000
    pattern = re.compile(rf"^BACK-[{CODE_ALPHABET}]{{4}}-[{CODE_ALPHABET}]{{4}}$")
    assert all(pattern.match(code) for code in codes)
    assert not set("01OILUV") & set(CODE_ALPHABET)


def test_make_code_takes_a_prefix_and_refuses_odd_ones() -> None:
    assert make_code("save").startswith("SAVE-")
    with pytest.raises(ValueError, match="prefix"):
        make_code("SA VE")
