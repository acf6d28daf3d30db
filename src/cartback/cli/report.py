"""`cartback report`: the report as JSON (as GET /api/report), or its breakdown rows as a table
or CSV (`--by flow|step|channel|segment|arm|day`, default flow)."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable
from typing import Any

from cartback.api.schemas import Report
from cartback.cli.common import add_command, open_runtime
from cartback.config import Settings
from cartback.domain.breakdown import By
from cartback.engine.measuring import RowOut
from cartback.startup import OperatorError, known_store

COLUMNS: tuple[tuple[str, Callable[[RowOut], object]], ...] = (
    ("carts", lambda r: r.carts),
    ("messages", lambda r: r.messages),
    ("clicks", lambda r: r.clicks),
    ("bot_clicks", lambda r: r.bot_clicks),
    ("recovered", lambda r: r.recovered),
    ("conversion", lambda r: f"{r.conversion:.1%}"),
    ("revenue", lambda r: r.revenue),
    ("spend", lambda r: r.spend),
    ("discount_cost", lambda r: r.discount_cost),
    ("roas", lambda r: "" if r.roas is None else r.roas),
    ("lift", lambda r: _lift(r)),
)


def add_report_command(commands: Any, since_arg: Callable[[str], object]) -> None:
    report = add_command(
        commands,
        "report",
        "print the recovery report (JSON, or rows as a table or CSV)",
        report_command,
        more="Carts, messages, spend, recovered revenue and ROAS, the holdout and lift, the "
        "experiments, as GET /api/report; --by breaks the figures down.",
    )
    report.add_argument("--store", default=None, help="one store's figures (default: every store)")
    report.add_argument("--flow", default=None, help="one flow's carts (default: every flow)")
    report.add_argument(
        "--since",
        type=since_arg,
        default=None,
        metavar="WHEN",
        help="only carts since WHEN: an ISO date or time (2026-11-01, 2026-11-01T08:00+01:00; "
        "a date is midnight UTC) or a span back from now (7d, 12h, 30m)",
    )
    report.add_argument(
        "--by", choices=[str(by) for by in By], default=None, help="rows per flow, step, ..."
    )
    report.add_argument(
        "--format",
        choices=("json", "table", "csv"),
        default="json",
        help="json: the whole report; table, csv: its rows (--by, default flow)",
    )


def report_command(settings: Settings, args: argparse.Namespace) -> int:
    from cartback.api.views import report_answer

    store = known_store(settings, args.store)
    if args.flow is not None and all(flow.id != args.flow for flow in settings.flows):
        known = ", ".join(flow.id for flow in settings.flows)
        raise OperatorError(f"--flow {args.flow}: no such flow in the config (flows: {known})")
    by = By(args.by) if args.by else (None if args.format == "json" else By.FLOW)
    runtime = open_runtime(settings, args.config).runtime
    found = report_answer(runtime, store, args.since, args.flow, by)
    if args.format == "json":
        print(found.model_dump_json(indent=2))
    elif args.format == "csv":
        write_csv(found, by or By.FLOW)
    else:
        print(table(found, by or By.FLOW))
    return 0


def _cells(found: Report) -> list[list[str]]:
    return [[row.key, *(str(value(row)) for _name, value in COLUMNS)] for row in found.rows or []]


def write_csv(found: Report, by: By) -> None:
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow([str(by), *(name for name, _value in COLUMNS)])
    out.writerows(_cells(found))


def table(found: Report, by: By) -> str:
    """Columns aligned; text left, numbers right; the lift last, with its interval."""
    head = [str(by), *(name for name, _value in COLUMNS)]
    rows = [head, *_cells(found)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = []
    for row in rows:
        cells = [
            cell.ljust(width) if i in (0, len(head) - 1) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    if not found.rows:
        lines.append("(no assigned carts yet)")
    return "\n".join(lines)


def _lift(row: RowOut) -> str:
    if row.lift is None:
        return ""
    lift = row.lift
    return f"{lift.absolute:+.1%} [{lift.ci_low:+.1%}, {lift.ci_high:+.1%}]"
