"""The limits of values from outside (domain/bounds.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from cartback.domain.bounds import (
    MAX_NESTING,
    OutOfBounds,
    check_event,
    not_after,
    printable,
    text_problem,
    too_deep,
)
from cartback.domain.events import (
    CartUpdated,
    Channel,
    Consent,
    ConsentChanged,
    Customer,
    LineItem,
)
from cartback.integrations._json import PayloadError, _few_containers, json_object

NOW = datetime(2026, 11, 30, 10, tzinfo=UTC)


def _cart(**changes: object) -> CartUpdated:
    fields: dict[str, object] = {
        "store_id": "acme",
        "cart_key": "c-1",
        "occurred_at": NOW,
        "currency": "DKK",
        "total": Decimal("10.00"),
        "customer": Customer(first_name="Astrid"),
        "consent": Consent(sms=True),
        "items": (LineItem("T-shirt", 1, Decimal("10.00")),),
    }
    fields.update(changes)
    return CartUpdated(**fields)  # type: ignore[arg-type]


def test_a_good_cart_passes() -> None:
    check_event(_cart())


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"customer": Customer(first_name="N" * 201)}, "customer.first_name: longer than 200"),
        ({"customer": Customer(email="\x00")}, "customer.email: contains a NUL"),
        ({"cart_key": "\udc80"}, "cart_key: contains a lone surrogate"),
        ({"currency": "XYZ"}, "currency: 'XYZ' is not an ISO 4217"),
        ({"total": Decimal("1e40")}, "total: 1E+40 is not an amount below"),
        ({"total": Decimal("-1")}, "total: -1 is negative"),
        ({"items": (LineItem("T", -1, Decimal(1)),)}, "items[0].quantity: -1 is not between"),
        ({"occurred_at": datetime(1, 1, 1, tzinfo=UTC)}, "occurred_at: 0001-01-01"),
    ],
)
def test_a_value_out_of_bounds_is_refused_naming_its_field(
    changes: dict[str, object], names: str
) -> None:
    with pytest.raises(OutOfBounds, match=names.replace("+", r"\+").replace("[", r"\[")):
        check_event(_cart(**changes))


def test_nesting_is_measured_without_recursion() -> None:
    deep: list[object] = []
    node = deep
    for _ in range(100_000):
        child: list[object] = []
        node.append(child)
        node = child
    assert too_deep(deep)
    assert not too_deep({"a": [{"b": 1}]})


@pytest.mark.parametrize("levels", [MAX_NESTING - 3, MAX_NESTING - 1, MAX_NESTING, MAX_NESTING + 1])
@pytest.mark.parametrize("inner", ["[]", "[1]", '{"a": "[{"}', '"x"'])
def test_a_body_is_measured_the_same_whether_walked_or_counted(levels: int, inner: str) -> None:
    """A body with few brackets is judged from its text, one with many by the walk: the same
    verdict as the walk's either way, near the bound and with brackets inside strings."""
    nested = '{"a": ' + "[" * levels + inner + "]" * levels + "}"
    padded = '{"pad": "' + "[" * 40 + '", "a": ' + "[" * levels + inner + "]" * levels + "}"
    assert not _few_containers(padded.encode())
    brackets = 1 + levels + inner.count("[") + inner.count("{")
    assert _few_containers(nested.encode()) == (brackets <= MAX_NESTING)
    for text in (nested, padded):
        deep = too_deep(orjson.loads(text))
        if deep:
            with pytest.raises(PayloadError, match="nests deeper"):
                json_object(text.encode())
        else:
            assert json_object(text.encode())["a"] is not None


def test_text_problems() -> None:
    assert text_problem("ok") is None
    assert text_problem("x" * 5, limit=4) == "longer than 4 characters (5)"
    assert text_problem("Ærøskøbing ☃ 🛒 ﬁ \uffff") is None, "any code point but a surrogate"
    for lone in ("\ud800", "Ærø\udfff", "🛒\udbff🛒", "a\udc00"):
        assert text_problem(lone) == "contains a lone surrogate (not valid Unicode)", lone
    assert text_problem("a\x00\ud800") == "contains a NUL character"
    assert printable("a\x00b\ud800") == "a\\x00b\\ud800"


def test_an_event_dated_after_it_arrived_counts_when_it_arrived() -> None:
    grant = ConsentChanged("acme", Channel.SMS, True, NOW + timedelta(days=1), "test", detail="box")
    dated, noted = not_after(grant, NOW)
    assert noted and dated.occurred_at == NOW
    assert isinstance(dated, ConsentChanged) and dated.detail is not None
    assert dated.detail.startswith("box; dated 2026-12-01")
    skewed, noted = not_after(_cart(occurred_at=NOW + timedelta(seconds=30)), NOW)
    assert not noted and skewed.occurred_at == NOW
    assert not_after(_cart(), NOW) == (_cart(), False)
