"""Money is a Decimal with its currency; never a float.

Amounts are kept exact as they arrived; they are rounded to the currency's minor units (ISO 4217)
only where they leave the engine, so an answer reads the same on every database.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation


class MoneyError(ValueError):
    pass


# ISO 4217 currencies whose minor unit is not 1/100. Every other code has two decimals.
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        (
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
DEFAULT_MINOR_UNITS = 2
RATIO_PLACES = Decimal("0.01")  # ROAS and other ratios of two amounts


def minor_units(currency: str | None) -> int:
    """Decimals of the currency's minor unit: 2 for DKK, 0 for JPY, 3 for KWD (and 2 unknown)."""
    if currency is None:
        return DEFAULT_MINOR_UNITS
    return _MINOR_UNITS.get(currency.strip().upper(), DEFAULT_MINOR_UNITS)


def in_minor_units(amount: Decimal, currency: str | None) -> Decimal:
    """`amount` rounded half up to the currency's minor unit: 0.3000 DKK -> 0.30, 1200.0 JPY ->
    1200, 1.5 KWD -> 1.500."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """`numerator / denominator` with two decimals (ROAS); None when the denominator is 0."""
    if denominator == 0:
        return None
    return (numerator / denominator).quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)


def parse_amount(value: object, field: str = "amount") -> Decimal:
    """Read an amount as sent by a platform ("12.50", 12, "12") into an exact Decimal.

    Floats are refused: they would already have lost precision before reaching us.
    """
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"{field}: expected an amount, got {value!r}")
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise MoneyError(f"{field}: {value!r} is not an amount") from None
    if not amount.is_finite():
        raise MoneyError(f"{field}: {value!r} is not a finite amount")
    return amount


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if len(self.currency) != 3 or not self.currency.isalpha():
            raise MoneyError(
                f"currency must be a three-letter ISO 4217 code, got {self.currency!r}"
            )

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise MoneyError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def __str__(self) -> str:
        return f"{in_minor_units(self.amount, self.currency)} {self.currency}"
