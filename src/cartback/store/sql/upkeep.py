"""The SQL side of `store/upkeep.py`: the due backlog, retention's purge, and the planner's
statistics of tables that grew fast (PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Table, delete, func, select, text, update
from sqlalchemy.sql.elements import ColumnElement

from cartback.domain.privacy import ERASED, ERASED_PREFIX
from cartback.domain.records import DeliveryStatus, RunStatus
from cartback.store.tables import clicks, deliveries, messages, metadata, opens, runs
from cartback.store.upkeep import GROWN, Backlog, Cutoffs, Purged

_DONE = (str(DeliveryStatus.PROCESSED), str(DeliveryStatus.FAILED))
# Our tables in this schema changed by more rows than their last ANALYZE counted (reltuples is
# -1 before the first), that this role may analyze: their owner's, or the database owner's.
_GROWN = text(
    """
    SELECT s.relname FROM pg_stat_user_tables AS s
    JOIN pg_class AS c ON c.oid = s.relid
    JOIN pg_database AS d ON d.datname = current_database()
    WHERE s.schemaname = current_schema() AND s.relname = ANY(:tables)
      AND s.n_mod_since_analyze >= greatest(:least, c.reltuples)
      AND (pg_has_role(c.relowner, 'USAGE') OR pg_has_role(d.datdba, 'USAGE'))
    ORDER BY s.relname
    """
)


class SqlUpkeep:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def backlog(self, now: datetime) -> Backlog:
        # The partial index ix_runs_due (pending runs by next_run_at) answers this alone.
        row = self.conn.execute(
            select(func.count(), func.min(runs.c.next_run_at)).where(
                runs.c.status == str(RunStatus.PENDING), runs.c.next_run_at <= now
            )
        ).one()
        return Backlog(int(row[0]), row[1])

    def analyze_grown(self) -> list[str]:
        if self.conn.dialect.name != "postgresql":
            return []  # SQLite keeps no plans across statements to go stale
        ours = sorted(metadata.tables)  # read now: journal_tables.py adds its own on import
        grown = self.conn.execute(_GROWN, {"tables": ours, "least": GROWN}).scalars().all()
        for name in grown:
            # A name from our own metadata, checked against the catalogue: safe to quote in.
            # SKIP_LOCKED: another worker analyzing it now is as good.
            self.conn.execute(text(f'ANALYZE (SKIP_LOCKED) "{name}"'))
        return list(grown)

    def purge(self, cutoffs: Cutoffs, limit: int, *, dry_run: bool = False) -> Purged:
        found = Purged()
        if cutoffs.raw_deliveries is not None:
            ids = self._ids(
                deliveries.c.id,
                limit,
                deliveries.c.received_at < cutoffs.raw_deliveries,
                deliveries.c.status.in_(_DONE),
            )
            if ids and not dry_run:
                self.conn.execute(delete(deliveries).where(deliveries.c.id.in_(ids)))
            found += Purged(raw_deliveries=len(ids))
        if cutoffs.message_texts is not None:
            texts = self._ids(
                messages.c.id,
                limit,
                messages.c.created_at < cutoffs.message_texts,
                messages.c.recipient != ERASED,  # ix_messages_unpurged
                messages.c.recipient.not_like(f"{ERASED_PREFIX}%"),  # an erasure's hash stays
            )
            if texts and not dry_run:
                erased = update(messages).where(messages.c.id.in_(texts))
                self.conn.execute(erased.values(body=ERASED, recipient=ERASED))
            found += Purged(message_texts=len(texts))
        if cutoffs.clicks is not None:
            found += Purged(
                clicks=self._forget_agents(clicks, cutoffs.clicks, limit, dry_run),
                opens=self._forget_agents(opens, cutoffs.clicks, limit, dry_run),
            )
        return found

    def _forget_agents(self, table: Table, before: datetime, limit: int, dry_run: bool) -> int:
        """Up to `limit` rows of clicks or opens from before `before` lose their user agent
        (found through the table's time index; the bot verdict made from it stays)."""
        seen = self._ids(table.c.id, limit, table.c.at < before, table.c.user_agent.is_not(None))
        if seen and not dry_run:
            self.conn.execute(update(table).where(table.c.id.in_(seen)).values(user_agent=None))
        return len(seen)

    def _ids(self, key: Column[Any], limit: int, *where: ColumnElement[bool]) -> list[Any]:
        # No order: any `limit` matching rows will do, found through the partial indexes.
        rows = self.conn.execute(select(key).where(*where).limit(limit))
        return [row[0] for row in rows]
