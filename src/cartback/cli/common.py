"""What the commands share: `--config`, and the runtime on a database that is ready."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from cartback.config import Settings
from cartback.runtime import Runtime, build, prepare_database
from cartback.startup import OperatorError, channel_findings, open_database
from cartback.store.sql import SqlStore

Command = Callable[[Settings, argparse.Namespace], int]


def add_command(
    commands: Any, name: str, about: str, func: Command, *, more: str = "", secrets: bool = False
) -> argparse.ArgumentParser:
    """A command that reads `--config FILE` and runs `func`; `about` is its one-line help, and
    with `more` its description. `secrets`: it needs the config's secrets to be set."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=about, description=f"{about[0].upper()}{about[1:]}. {more}".strip()
    )
    parser.add_argument(
        "--config", "-c", required=True, metavar="FILE", help="the YAML config file"
    )
    parser.set_defaults(func=func, needs_secrets=secrets)
    return parser


@dataclass
class Opened:
    runtime: Runtime
    revision: str | None  # the database schema's
    warnings: list[str]  # about the channels' settings


def open_runtime(
    settings: Settings,
    config_file: str,
    *,
    engine: Engine | None = None,
    echo_outbox: bool = False,
) -> Opened:
    """The runtime on a database that answers and has the current schema (SQLite is migrated
    here); an `OperatorError` for a gateway setting that cannot work or a database that is not
    ready."""
    findings = channel_findings(settings, strict_dns=False)
    errors = [f.text for f in findings if f.level == "error"]
    if errors:
        raise OperatorError("\n".join(errors))
    engine = engine or open_database(settings.database_url)
    runtime = build(
        settings, echo_outbox=echo_outbox, store=SqlStore(engine, lanes=settings.database_lanes)
    )
    revision = prepare_database(runtime, auto_migrate=False, config_file=config_file)
    return Opened(runtime, revision, [f.text for f in findings if f.level == "warning"])
