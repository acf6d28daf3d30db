"""`cartback purge`: remove personal data past the config's `retention:` now (the worker also
does it once a day)."""

from __future__ import annotations

import argparse
from typing import Any

from cartback.cli.common import add_command, open_runtime
from cartback.config import Settings
from cartback.domain.durations import span
from cartback.engine.retention import Retention, purge

_KINDS = (  # (what was counted, the retention key that ages it, its name, what became of it)
    ("raw_deliveries", "raw_deliveries", "raw deliveries", "deleted"),
    ("message_texts", "message_texts", "message texts", "erased"),
    ("clicks", "clicks", "click details", "erased"),
    ("opens", "clicks", "email open details", "erased"),
)


def add_commands(commands: Any) -> None:
    parser = add_command(
        commands,
        "purge",
        "remove personal data past the config's retention",
        purge_command,
        more="Raw webhook bodies, message texts and recipients, the user agents of clicks and "
        "email opens; what the "
        "report counts stays. The worker does the same once a day.",
    )
    parser.add_argument("--dry-run", action="store_true", help="count only; change nothing")


def purge_command(settings: Settings, args: argparse.Namespace) -> int:
    keep = Retention(**settings.retention.model_dump())
    if not settings.retention.any:
        print("retention: nothing is set, so nothing is removed (see `retention:` in the config)")
        return 0
    runtime = open_runtime(settings, args.config).runtime
    done = purge(runtime.store, runtime.clock, keep, dry_run=args.dry_run)
    would = "would be " if args.dry_run else ""
    for key, age_key, name, verb in _KINDS:
        age = getattr(keep, age_key)
        if age is None:
            print(f"{name}: kept (no retention set)")
            continue
        count = getattr(done, key)
        print(f"{name} older than {span(age)}: {count} {would}{verb}")
    return 0
