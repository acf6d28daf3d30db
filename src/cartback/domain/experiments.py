"""Experiments and the holdout: which arm a cart gets, and whether it is held out.

Both are decided by hashing, so the same cart always gets the same answer, on any machine and
after any restart, without storing anything first. SHA-256 of the experiment's id and the cart
turns into a number in [0, 1), and the arms' weights cut that range into slices. The holdout
hashes with a different prefix, so being held out says nothing about the arm, and vice versa.
The engine records the assignment when the cart is abandoned; changing weights later moves
only carts that were not assigned yet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from cartback.domain.best_arm import Goal

_SCALE = 2**64


def unit_hash(*parts: str) -> float:
    """A stable number in [0, 1) for these parts (NUL-separated, so ("ab", "c") ≠ ("a", "bc"))."""
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


@dataclass(frozen=True, slots=True)
class Arm:
    name: str
    weight: float  # relative to the other arms'; 0 takes no new carts


@dataclass(frozen=True, slots=True)
class Experiment:
    id: str
    arms: tuple[Arm, ...]
    min_carts_per_arm: int = 100
    auto_winner: bool = False  # once a winner is called, new carts go to it
    goal: Goal = Goal.CONVERSION

    def __post_init__(self) -> None:
        if not self.arms or sum(arm.weight for arm in self.arms) <= 0:
            raise ValueError(f"experiment {self.id}: needs an arm with a weight above 0")
        if any(arm.weight < 0 for arm in self.arms):
            raise ValueError(f"experiment {self.id}: weights must not be negative")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(arm.name for arm in self.arms)

    def assign(self, cart_key: str, winner: str | None = None) -> str:
        """The arm for a cart; with auto_winner and a winner called, the winner."""
        if self.auto_winner and winner in self.names:
            return winner
        return choose_arm(self.id, self.arms, cart_key)


def choose_arm(experiment_id: str, arms: Sequence[Arm], cart_key: str) -> str:
    total = sum(arm.weight for arm in arms)
    point = unit_hash("arm", experiment_id, cart_key) * total
    reached = 0.0
    for arm in arms:
        reached += arm.weight
        if point < reached and arm.weight > 0:
            return arm.name
    return next(arm.name for arm in reversed(arms) if arm.weight > 0)  # rounding at the top


@dataclass(frozen=True, slots=True)
class Holdout:
    """A share of a flow's carts that gets no message, to measure what the messages add."""

    id: str  # the flow's id
    share: Decimal  # 0.10 for `holdout: 10%`

    def holds_out(self, cart_key: str) -> bool:
        return unit_hash("holdout", self.id, cart_key) < float(self.share)


@dataclass(frozen=True, slots=True)
class Assignment:
    """What a cart got when it was abandoned: held out or not, and an arm per experiment."""

    held_out: bool = False
    arms: tuple[tuple[str, str], ...] = ()  # (experiment id, arm name), in flow order

    def arm(self, experiment_id: str) -> str | None:
        return dict(self.arms).get(experiment_id)

    def as_mapping(self) -> dict[str, str]:
        return dict(self.arms)

    @classmethod
    def from_mapping(cls, held_out: bool, arms: Mapping[str, str]) -> Assignment:
        return cls(held_out, tuple(arms.items()))


@dataclass(frozen=True, slots=True)
class Winner:
    """An arm called the winner of an `auto_winner` experiment: new carts go to it from
    `called_at` on (carts assigned before keep their arms)."""

    experiment_id: str
    arm: str
    called_at: datetime
    why: str
