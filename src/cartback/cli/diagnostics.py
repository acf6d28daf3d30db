"""`cartback diagnostics --store ID`: where in the checkout a store's carts are left."""

from __future__ import annotations

import argparse
from typing import Any

from cartback.cli.common import add_command, open_runtime
from cartback.cli.data import since_arg
from cartback.config import Settings
from cartback.engine.diagnostics import Diagnosis, diagnose
from cartback.startup import known_store


def add_commands(commands: Any) -> None:
    parser = add_command(
        commands,
        "diagnostics",
        "print where in the checkout a store's carts were abandoned",
        diagnostics_command,
        more="Per checkout stage: abandoned carts and their share in the window, against the "
        "store's baseline (the same hours of the previous days), with the alerts raised.",
    )
    parser.add_argument("--store", required=True, help="the store's id")
    parser.add_argument(
        "--since",
        type=since_arg,
        default=None,
        metavar="WHEN",
        help="the window's start (default: alerts.window back from now, 24h)",
    )


def diagnostics_command(settings: Settings, args: argparse.Namespace) -> int:
    store = known_store(settings, args.store) or ""
    runtime = open_runtime(settings, args.config).runtime
    now = runtime.clock.now()
    since = args.since or now - settings.alerts.window
    print("\n".join(table(diagnose(runtime.store, store, since, now, settings.alerts))))
    return 0


def table(found: Diagnosis) -> list[str]:
    span = f"{found.since:%Y-%m-%d %H:%M} to {found.until:%Y-%m-%d %H:%M} UTC"
    lines = [
        f"store {found.store_id}: {found.carts} abandoned carts {span} "
        f"(baseline: {found.baseline_carts})",
        f"{'stage':<18} {'carts':>6} {'share':>6} {'baseline':>9} {'z':>6}",
    ]
    for row in found.stages:
        flag = "  ALERT" if row.alert else ""
        lines.append(
            f"{row.stage:<18} {row.carts:>6} {row.share:>6.0%} {row.baseline_share:>9.0%} "
            f"{row.z:>6.1f}{flag}"
        )
    for name, counts in found.sources.items():
        shown = ", ".join(f"{value} {n}" for value, n in counts.items())
        lines.append(f"by {name}: {shown}")
    lines += [f"alert {a.day}: {a.detail}" for a in found.alerts]
    return lines
