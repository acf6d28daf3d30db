"""Money is a Decimal with its currency; never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


class MoneyError(ValueError):
    pass


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
        return f"{self.amount:.2f} {self.currency}"
