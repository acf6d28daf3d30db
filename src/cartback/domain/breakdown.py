"""The report's figures broken down by flow, step, channel, segment, arm or day.

Each row has the figures of `measure.Tally` for its treated carts. Rows by flow, segment and
day hold their own held-out carts too, so each has a lift; rows by step and channel count the
carts that got a message at that step or on that channel, and only those messages; rows by
arm are one per experiment arm, and one for the holdout.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cartback.domain.measure import Counting, Tally, tally
from cartback.domain.outcomes import CartOutcome, SentMessage
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


def breakdown(
    outcomes: Sequence[CartOutcome],
    by: By,
    counting: Counting,
    segments: Mapping[str, str] | None = None,
) -> list[Row]:
    """`segments`: each flow's segment in words (its condition), for `by=segment`."""
    if by == By.ARM:
        return _by_arm(outcomes, counting)
    if by in (By.STEP, By.CHANNEL):
        key = _step_key if by == By.STEP else _channel_key
        return _by_message(outcomes, counting, key)
    labels = segments or {}
    keys: dict[By, Callable[[CartOutcome], str]] = {
        By.FLOW: lambda o: o.flow_id,
        By.SEGMENT: lambda o: labels.get(o.flow_id, "every cart"),
        By.DAY: lambda o: o.abandoned_at.date().isoformat(),
    }
    groups: dict[str, list[CartOutcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[keys[by](outcome)].append(outcome)
    rows = []
    for name in sorted(groups):
        held = tally([o for o in groups[name] if o.held_out], counting)
        treated = tally([o for o in groups[name] if not o.held_out], counting)
        rows.append(Row(name, treated, lift(treated.group(), held.group(), treated.spend)))
    return rows


def _by_arm(outcomes: Sequence[CartOutcome], counting: Counting) -> list[Row]:
    groups: dict[str, list[CartOutcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.held_out:
            continue
        for experiment_id, arm in outcome.arms:
            groups[f"{experiment_id}/{arm}"].append(outcome)
    rows = [Row(name, tally(groups[name], counting)) for name in sorted(groups)]
    rows.append(Row("holdout", tally([o for o in outcomes if o.held_out], counting)))
    return rows


def _step_key(outcome: CartOutcome, message: SentMessage) -> str:
    step = "?" if message.step_index is None else str(message.step_index + 1)
    return f"{outcome.flow_id} step {step}"


def _channel_key(_outcome: CartOutcome, message: SentMessage) -> str:
    return message.channel


def _by_message(
    outcomes: Sequence[CartOutcome],
    counting: Counting,
    key: Callable[[CartOutcome, SentMessage], str],
) -> list[Row]:
    carts: dict[str, dict[int, CartOutcome]] = defaultdict(dict)
    messages: dict[str, list[SentMessage]] = defaultdict(list)
    for outcome in outcomes:
        for message in outcome.messages:
            name = key(outcome, message)
            carts[name][outcome.cart_id] = outcome
            messages[name].append(message)
    return [
        Row(name, tally(list(carts[name].values()), counting, messages[name]))
        for name in sorted(carts)
    ]
