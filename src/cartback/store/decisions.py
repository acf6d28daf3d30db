"""The decisions taken about carts and their runs: each line of a timeline that says why."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from cartback.domain.records import DecisionEntry


class Decisions(Protocol):
    def add(self, entry: DecisionEntry) -> None: ...
    def for_cart(self, cart_id: int) -> list[DecisionEntry]:
        """In the order they were taken."""
        ...

    def batch(self) -> AbstractContextManager[None]:
        """The decisions added inside are written together as it ends, in their order (one
        statement where the store can; none when it raises, the transaction rolls back).
        `for_cart` inside it sees them."""
        ...
