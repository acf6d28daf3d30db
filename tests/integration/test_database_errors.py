"""A database error never quotes the values of its statement (issue 14.8), on both databases:
SQLAlchemy's `[parameters: …]` would otherwise carry phone numbers and emails into the log."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError

from cartback.domain.redact import mask_text
from cartback.store.tables import suppressions

EMAIL = "astrid.personal@example.com"


def test_an_integrity_error_names_no_parameter(db: Engine) -> None:
    row = {
        "channel": "email",
        "address": EMAIL,
        "reason": "unsubscribe",
        "source": "test",
        "created_at": datetime(2026, 11, 30, tzinfo=UTC),
    }
    with db.begin() as conn:
        conn.execute(insert(suppressions).values(**row))
    with pytest.raises(IntegrityError) as caught, db.begin() as conn:
        conn.execute(insert(suppressions).values(**row))
    assert "[parameters:" not in str(caught.value)
    assert "hidden due to hide_parameters" in str(caught.value)
    # PostgreSQL's own DETAIL line quotes the key; the log formatter masks it.
    assert EMAIL not in mask_text(str(caught.value))
