"""`cartback backtest` (the configured flows over a shop's past events, sending nothing) and
`cartback simulate` (a generated world through the engine, checked against the rules)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cartback.cli.common import add_command
from cartback.cli.data import progress, since_arg
from cartback.config import Settings
from cartback.errors import FileError
from cartback.history.backtest import run_backtest, text_lines
from cartback.history.events import HistoryEvent
from cartback.history.files import read_events
from cartback.history.simulate import simulate
from cartback.history.simulate import text_lines as simulation_lines
from cartback.history.summary import message_lines

WORLD_CONFIG = Path(__file__).resolve().parents[1] / "history" / "simulation.yaml"


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
    backtest.add_argument(
        "--since",
        type=since_arg,
        default=None,
        metavar="WHEN",
        help="only events from this date or time on (2026-11-01, or a span back: 30d)",
    )
    backtest.add_argument(
        "--until",
        type=since_arg,
        default=None,
        metavar="WHEN",
        help="only events before this; the simulated clock stops here (default: the last "
        "event and the longest flow)",
    )
    backtest.add_argument("--json", action="store_true", help="the summary as JSON")
    backtest.add_argument(
        "--messages", default=None, metavar="OUT", help="write each message as a JSON line"
    )
    _simulate_command(commands)


def _simulate_command(commands: Any) -> None:
    about = "run a generated world through the engine and check that no rule is broken"
    parser: argparse.ArgumentParser = commands.add_parser(
        "simulate",
        help=about,
        description=f"{about[0].upper()}{about[1:]}. Shoppers across the globe, consent given "
        "and withdrawn, STOP replies, promotional touches, second carts, orders racing the "
        "send, late and out-of-order webhooks, gateway failures. Exit code 1 on any violation.",
    )
    parser.add_argument(
        "--config",
        "-c",
        default=str(WORLD_CONFIG),
        metavar="FILE",
        help="the config whose first store and flows run (default: a built-in world)",
    )
    parser.add_argument("--carts", type=int, default=10_000, help="how many carts (10000)")
    parser.add_argument("--seed", type=int, default=1, help="the world's random seed (1)")
    parser.add_argument("--json", action="store_true", help="the summary as JSON")
    parser.set_defaults(func=simulate_command, needs_secrets=False)


@contextmanager
def _quiet_engine(args: argparse.Namespace) -> Iterator[None]:
    """The engine's line per message is noise over a replay: warnings only, unless --verbose."""
    engine = logging.getLogger("cartback")
    was = engine.level
    if not getattr(args, "verbose", False):
        engine.setLevel(logging.WARNING)
    try:
        yield
    finally:
        engine.setLevel(was)


def backtest_command(settings: Settings, args: argparse.Namespace) -> int:
    with _quiet_engine(args):
        return _backtest(settings, args)


def _backtest(settings: Settings, args: argparse.Namespace) -> int:
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


def simulate_command(settings: Settings, args: argparse.Namespace) -> int:
    with _quiet_engine(args):
        result = simulate(
            settings,
            args.carts,
            args.seed,
            progress=lambda happenings: progress(happenings, "simulating"),
        )
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        print("\n".join(simulation_lines(result)))
    return 1 if result.violations.total else 0
