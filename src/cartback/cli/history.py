"""`cartback backtest`: the configured flows over a shop's past events, sending nothing."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cartback.cli.common import add_command
from cartback.cli.data import progress, since_arg
from cartback.config import Settings
from cartback.errors import FileError
from cartback.history.backtest import run_backtest, text_lines
from cartback.history.events import HistoryEvent
from cartback.history.files import read_events
from cartback.history.summary import message_lines


def add_commands(commands: Any) -> None:
    backtest = add_command(
        commands,
        "backtest",
        "run the configured flows over past shop events, sending nothing",
        backtest_command,
        more="Events are JSON Lines in the generic webhook schema (each with occurred_at), or "
        "Shopify's CSV exports of abandoned checkouts and of orders. Prints, per store and "
        "flow, what would have been sent, skipped and deferred, and what it might have earned.",
    )
    backtest.add_argument(
        "--events",
        required=True,
        action="append",
        metavar="FILE",
        help="a .jsonl file or a Shopify .csv export (repeat for several)",
    )
    backtest.add_argument(
        "--store", default=None, help="the store a CSV export is from (default: the only one)"
    )
    backtest.add_argument("--since", type=since_arg, default=None, metavar="WHEN")
    backtest.add_argument("--until", type=since_arg, default=None, metavar="WHEN")
    backtest.add_argument("--json", action="store_true", help="the summary as JSON")
    backtest.add_argument(
        "--messages", default=None, metavar="OUT", help="write each message as a JSON line"
    )


def backtest_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        events: list[HistoryEvent] = []
        for name in args.events:
            events += read_events(Path(name), settings, args.store)
    except FileError as mistake:
        print(f"cartback: {mistake}", file=sys.stderr)
        return 2
    except OSError as mistake:
        print(f"cartback: {mistake.filename}: {mistake.strerror}", file=sys.stderr)
        return 2
    result = run_backtest(
        settings,
        events,
        since=args.since,
        until=args.until,
        progress=lambda chosen: progress(chosen, "replaying"),
    )
    if args.messages:
        store_ids = [store.id for store in settings.stores]
        with open(args.messages, "w", encoding="utf-8") as out:
            for line in message_lines(result.replay.store, store_ids):
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        print("\n".join(text_lines(result)))
    return 0
