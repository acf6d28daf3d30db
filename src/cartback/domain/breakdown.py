"""The report's figures broken down by flow, step, channel, segment, arm or day.

Each row has the figures of `measure.Tally` for its treated carts. Rows by flow, segment and
day hold their own held-out carts too, so each has a lift; rows by step and channel count the
carts that got a message at that step or on that channel, and only those messages (cells per
step or channel, `Per`); rows by arm are one per experiment arm, and one for the holdout.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cartback.domain.cells import Cell, Per, cells_of
from cartback.domain.measure import Counting, Tally, summed
from cartback.domain.outcomes import CartOutcome
from cartback.domain.stats import Lift, lift


class By(StrEnum):
    FLOW = "flow"
    STEP = "step"
    CHANNEL = "channel"
    SEGMENT = "segment"
    ARM = "arm"
    DAY = "day"


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    tally: Tally  # treated carts (for `arm`'s holdout row: the held-out carts)
    lift: Lift | None = None  # for rows that hold both groups


def per(by: By) -> Per:
    """The cells a breakdown reads."""
    return {By.STEP: Per.STEP, By.CHANNEL: Per.CHANNEL}.get(by, Per.CART)


def breakdown(
    outcomes: Sequence[CartOutcome],
    by: By,
    counting: Counting,
    segments: Mapping[str, str] | None = None,
) -> list[Row]:
    """`segments`: each flow's segment in words (its condition), for `by=segment`."""
    cells = cells_of(outcomes, counting.window, per(by))
    return rows(cells, by, counting.currency, segments)


def rows(
    cells: Sequence[Cell],
    by: By,
    currency: str | None,
    segments: Mapping[str, str] | None = None,
) -> list[Row]:
    """The rows of cells made `per(by)`."""
    if by == By.ARM:
        return _by_arm(cells, currency)
    if by in (By.STEP, By.CHANNEL):
        return _by_message(cells, currency, _step_key if by == By.STEP else _channel_key)
    labels = segments or {}
    keys: dict[By, Callable[[Cell], str]] = {
        By.FLOW: lambda c: c.flow_id,
        By.SEGMENT: lambda c: labels.get(c.flow_id, "every cart"),
        By.DAY: lambda c: c.day,
    }
    groups: dict[str, list[Cell]] = defaultdict(list)
    for cell in cells:
        groups[keys[by](cell)].append(cell)
    found = []
    for name in sorted(groups):
        held = summed([c for c in groups[name] if c.held_out], currency)
        treated = summed([c for c in groups[name] if not c.held_out], currency)
        found.append(Row(name, treated, lift(treated.group(), held.group(), treated.spend)))
    return found


def _by_arm(cells: Sequence[Cell], currency: str | None) -> list[Row]:
    groups: dict[str, list[Cell]] = defaultdict(list)
    for cell in cells:
        if cell.held_out:
            continue
        for experiment_id, arm in cell.arms:
            groups[f"{experiment_id}/{arm}"].append(cell)
    found = [Row(name, summed(groups[name], currency)) for name in sorted(groups)]
    found.append(Row("holdout", summed([c for c in cells if c.held_out], currency)))
    return found


def _step_key(cell: Cell) -> str:
    step = "?" if cell.step is None else str(cell.step + 1)
    return f"{cell.flow_id} step {step}"


def _channel_key(cell: Cell) -> str:
    return str(cell.channel)


def _by_message(
    cells: Sequence[Cell], currency: str | None, key: Callable[[Cell], str]
) -> list[Row]:
    groups: dict[str, list[Cell]] = defaultdict(list)
    for cell in cells:
        groups[key(cell)].append(cell)
    return [Row(name, summed(groups[name], currency)) for name in sorted(groups)]
