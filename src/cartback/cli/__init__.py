"""`cartback serve | worker | migrate | check | preview | deliveries | report | shopify | ...`.

Exit codes: 0 done; 1 a failure or a bug (a bug prints its traceback); 2 a mistake to fix in
the command line, the config or the setup around it, said in one line without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cartback import __version__, logs
from cartback.cli import contacts, data, diagnostics, history, serve, shops, upkeep
from cartback.config import ConfigError, Settings, load_config
from cartback.startup import OperatorError, secret_stand_in

__all__ = ["build_parser", "load_settings", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.setup(args.log_level, verbose=args.verbose, fmt=args.log_format)
    try:
        settings = load_settings(args.config, needs_secrets=args.needs_secrets)
        code: int = args.func(settings, args)
    except (ConfigError, OperatorError) as mistake:
        print(f"cartback: {mistake}", file=sys.stderr)
        return 2
    return code


def load_settings(path: str, *, needs_secrets: bool) -> Settings:
    """The config; a command that uses no secrets runs with `${VAR}` secrets left unset."""
    return load_config(path, unset=None if needs_secrets else secret_stand_in)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cartback",
        description="Self-hosted abandoned-cart recovery: webhooks in, timed messages out.",
        epilog="Exit codes: 0 done, 1 failure or bug, 2 a mistake in the command, config or "
        "setup (one line on stderr). `cartback COMMAND --help` tells more.",
    )
    parser.add_argument("--version", action="version", version=f"cartback {__version__}")
    _logging_args(parser, after_command=False)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    serve.add_commands(commands)
    data.add_commands(commands)
    shops.add_commands(commands)
    upkeep.add_commands(commands)
    contacts.add_commands(commands)
    history.add_commands(commands)
    diagnostics.add_commands(commands)
    for command in _leaves(parser):
        _logging_args(command, after_command=True)
    return parser


def _logging_args(parser: argparse.ArgumentParser, *, after_command: bool) -> None:
    """`--verbose`, `--log-level` and `--log-format`, before or after the command. After it they
    default to SUPPRESS, so that leaving them out there does not undo what was given before it."""
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        default=argparse.SUPPRESS if after_command else False,
        help="debug logging, and the database migrations' own lines",
    )
    parser.add_argument(
        "--log-level",
        default=argparse.SUPPRESS if after_command else "INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="the least severe log lines shown (default: INFO)",
    )
    parser.add_argument(
        "--log-format",
        default=argparse.SUPPRESS if after_command else "text",
        choices=["text", "json"],
        help="json: one JSON object per line, with the request id (default: text)",
    )


def _leaves(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers that run a command (`serve`, `deliveries list`, ...)."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += _leaves(child) or [child]
    return found


if __name__ == "__main__":
    sys.exit(main())
