"""Every acceptance run's log is read for personal data (issue 14.8): after each test, every line
a cartback process wrote (`<name>.stderr` in the test's tmp_path) is searched for an unmasked
email address or international phone number."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

# Written here, apart from cartback's own masks, so that the check does not trust them.
# A domain ends in a name (`.com`), not a number: `postgres@127.0.0.1` in a database URL is a login.
EMAIL = re.compile(r"(?<![\w.*+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?![\w-])")
PHONE = re.compile(r"(?<![\w+*])\+\d(?:[ -]?\d){6,14}(?![\d*])")


def personal_data(text: str) -> list[str]:
    return [match.group(0) for pattern in (EMAIL, PHONE) for match in pattern.finditer(text)]


@pytest.fixture(autouse=True)
def no_personal_data_in_logs(tmp_path: Path) -> Iterator[None]:
    yield
    found = {
        path.name: hits
        for path in sorted(tmp_path.rglob("*.stderr"))
        if (hits := personal_data(path.read_text(encoding="utf-8", errors="replace")))
    }
    assert not found, f"unmasked personal data in the logs: {found}"
