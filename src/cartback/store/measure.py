"""The store's part in measuring: a run's experiment assignment, email opens, what a run's
messages got (for `opened:`/`clicked:` conditions), each assigned cart's outcome and their
sums in cells (the report), and the winners called for `auto_winner` experiments. Both stores
implement it (`store/sql/measure.py` with `store/sql/cells.py`, `testing/_measure.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from cartback.domain.cells import Cell, CellsAsked
from cartback.domain.engagement import Open
from cartback.domain.experiments import Assignment, Winner
from cartback.domain.outcomes import CartOutcome


class Measurements(Protocol):
    def assign(self, run_id: int, assignment: Assignment) -> Assignment:
        """Keep the run's assignment unless it has one already; the one it keeps. A cart's
        arms never change once given (updates, restarts, new weights)."""
        ...

    def add_open(self, opened: Open) -> None: ...
    def opens_for_cart(self, cart_id: int) -> list[Open]:
        """Oldest first, machines' too (each with its reason)."""
        ...

    def engagement(self, run_id: int) -> tuple[frozenset[str], frozenset[str]]:
        """The channels of the run's messages that people opened, and those they clicked."""
        ...

    def outcomes(
        self, store_id: str, since: datetime | None, flow_id: str | None = None
    ) -> list[CartOutcome]:
        """Every cart of the store abandoned since `since` and assigned in a flow (`flow_id`:
        that one), with its messages that went out and its first order; by cart id."""
        ...

    def cells(self, asked: CellsAsked) -> list[Cell]:
        """The carts `outcomes` gives for the store, period and flow asked, summed in cells
        (`domain/cells.py`), recovered as counted with the window asked: what `cells_of`
        makes of them, in cells that may be split differently (the same sums by key)."""
        ...

    def call_winner(self, winner: Winner) -> bool:
        """Keep the experiment's winner unless one was called already; whether it was new."""
        ...

    def winners(self) -> dict[str, Winner]:
        """By experiment id."""
        ...
