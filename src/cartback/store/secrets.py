"""Secrets cartback makes for itself and keeps in its database (the signing secret): the same
for every process on the database, and for the life of the installation."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Secrets(Protocol):
    def keep(self, name: str, value: str, now: datetime) -> str:
        """The secret stored as `name`; when there is none yet, `value`, stored now. Of two
        processes starting at once, both get the one that was stored first."""
        ...
