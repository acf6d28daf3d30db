"""Statements asked on every webhook or before every send are rendered once: no expanding
parameters (which SQLAlchemy renders into the text again at every execution)."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import Dialect, select
from sqlalchemy.dialects import postgresql, sqlite

from cartback.domain.statuses import NOT_SENT
from cartback.store.sql.common import among, one_of_params, params
from cartback.store.sql.consent import blocked_statement
from cartback.store.sql.lookback import _statement
from cartback.store.tables import decisions, messages

POSTGRESQL: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
SQLITE: Dialect = sqlite.dialect()
DIALECTS = [POSTGRESQL, SQLITE]


@pytest.mark.parametrize("dialect", DIALECTS, ids=["postgresql", "sqlite"])
def test_constant_words_are_written_into_the_statement(dialect: Dialect) -> None:
    query = select(messages.c.id).where(among(messages.c.status, ["sent", "delivered"]))
    compiled = query.compile(dialect=dialect)
    assert "IN ('sent', 'delivered')" in str(compiled)
    assert "POSTCOMPILE" not in str(compiled) and not compiled.params


@pytest.mark.parametrize("word", ["sent'", "Sent", "", "a b", "x'); DROP TABLE messages; --"])
def test_only_lower_case_words_are_written_into_a_statement(word: str) -> None:
    with pytest.raises(ValueError, match="constant word"):
        among(messages.c.status, ["sent", word])


def test_values_given_as_numbered_parameters() -> None:
    query = select(messages.c.id).where(one_of_params(messages.c.recipient, "to", 2))
    compiled = query.compile(dialect=POSTGRESQL)
    assert set(compiled.params) == {"to_0", "to_1"}
    assert params("to", ["a", "b"]) == {"to_0": "a", "to_1": "b"}
    none = select(messages.c.id).where(one_of_params(messages.c.recipient, "to", 0))
    assert "false" in str(none.compile(dialect=POSTGRESQL)).lower()


@pytest.mark.parametrize("dialect", DIALECTS, ids=["postgresql", "sqlite"])
def test_the_questions_before_a_send_have_no_expanding_parameter(dialect: Dialect) -> None:
    for shape in itertools.product([True, False], repeat=4):
        for blocked in [(0, 0), (1, 0), (2, 1), (0, 2)]:
            compiled = _statement(*shape, blocked).compile(dialect=dialect)
            assert "POSTCOMPILE" not in str(compiled), (shape, blocked)
    assert "POSTCOMPILE" not in str(blocked_statement(2, 2).compile(dialect=dialect))


@pytest.mark.parametrize("dialect", DIALECTS, ids=["postgresql", "sqlite"])
def test_the_skips_index_holds_every_action_the_report_counts_as_skipped(
    dialect: Dialect,
) -> None:
    """`ix_decisions_skipped_at` is of the actions that send nothing, as the report's count of
    skips writes them: a new such action must be in both, or the planner may not use it."""
    [index] = [i for i in decisions.indexes if i.name == "ix_decisions_skipped_at"]
    where = str(index.dialect_options[dialect.name]["where"])
    skipped = sorted(str(action) for action in NOT_SENT)
    assert where == "action IN (" + ", ".join(f"'{a}'" for a in skipped) + ")"
    condition = among(decisions.c.action, skipped).compile(dialect=dialect)
    assert str(condition) == "decisions." + where
