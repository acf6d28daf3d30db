"""Test doubles used by cartback's own tests, and useful to anyone embedding cartback: a clock
that moves when told, a gateway that records what it would send, and a store in memory that
keeps the same contract as the database."""

from __future__ import annotations

from cartback.clock import FakeClock
from cartback.testing._gateway import FakeGateway
from cartback.testing._memory import InMemoryStore
from cartback.testing._tables import StoreConflict

__all__ = ["FakeClock", "FakeGateway", "InMemoryStore", "StoreConflict"]
