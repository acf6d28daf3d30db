"""What the commands share: `--config`, and the runtime on a database that is ready."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from sqlalchemy import Engine

from cartback.config import Settings
from cartback.runtime import Runtime, build, prepare_database
from cartback.startup import OperatorError, channel_findings, open_database


def config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", "-c", required=True, metavar="FILE", help="the YAML config file"
    )


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
    runtime = build(settings, echo_outbox=echo_outbox, engine=engine)
    revision = prepare_database(runtime, auto_migrate=False, config_file=config_file)
    return Opened(runtime, revision, [f.text for f in findings if f.level == "warning"])
