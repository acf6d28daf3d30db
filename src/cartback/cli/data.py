"""The commands on stored data: deliveries, imports, the report, tokens and previews.

Each command's database work is a small function of its own (`_listing`, `_record_touches`,
...) so that it can move behind the store's interface without touching the command around it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm

from cartback.cli.common import add_command, open_runtime
from cartback.cli.report import add_report_command
from cartback.cli.summary import webhook_urls
from cartback.config import Settings, read_since
from cartback.runtime import Runtime
from cartback.startup import OperatorError, known_store

T = TypeVar("T")
CHUNK = 500  # rows written between two steps of a progress bar
# On stderr, only when it is a terminal (disable=None), and gone once done.
_BAR: dict[str, Any] = {"unit": " rows", "file": sys.stderr, "disable": None, "leave": False}


def add_commands(commands: Any) -> None:
    _deliveries_commands(commands)
    _import_commands(commands)
    add_command(
        commands,
        "tokens",
        "print the webhook URLs that carry a token",
        tokens_command,
        more="Paste them into shop plugins that sign with a URL token.",
    )
    preview = add_command(
        commands,
        "preview",
        "render a flow's messages for a sample cart",
        preview_command,
        more="Each step as a sample customer would get it, with SMS segments and cost.",
    )
    preview.add_argument("--flow", required=True, help="the flow's id")
    add_report_command(commands, since_arg)


def _deliveries_commands(commands: Any) -> None:
    deliveries = commands.add_parser(
        "deliveries",
        help="stored webhook deliveries: list, replay",
        description="Every webhook is stored raw before it is read; list or re-run them.",
    )
    actions = deliveries.add_subparsers(required=True, metavar="ACTION")
    listing = add_command(
        actions, "list", "list stored deliveries, newest first", deliveries_list_command
    )
    listing.add_argument("--failed", action="store_true", help="only those that failed to parse")
    listing.add_argument("--store", default=None, help="only this store's deliveries")
    listing.add_argument(
        "--limit", type=int, default=50, help="at most this many (default: %(default)s)"
    )
    replay = add_command(
        actions,
        "replay",
        "run deliveries through the current code again",
        deliveries_replay_command,
        more="E.g. after a fix, or a config change such as a store's currency.",
    )
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, action="append", help="a delivery id (repeatable)")
    which.add_argument("--failed", action="store_true", help="every delivery that failed")


def _import_commands(commands: Any) -> None:
    imports = [
        ("touches", "promotional sends of other systems (they count for the cooldown)",
         "import a CSV: phone,email,channel,sent_at,source", touches_import_command),
        ("consent", "consent given elsewhere (a till, a form, another tool)",
         "import a CSV: store,phone,email,channel,granted,occurred_at,wording",
         consent_import_command),
        ("codes", "discount code pools (non-Shopify stores)",
         "import a CSV of single-use codes, one per row", codes_import_command),
    ]  # fmt: skip
    for name, about, what, func in imports:
        group = commands.add_parser(name, help=about, description=about)
        actions = group.add_subparsers(required=True, metavar="ACTION")
        load = add_command(actions, "import", what, func)
        if name == "codes":
            load.add_argument("--store", required=True, help="the store whose pool gets the codes")
        load.add_argument("file", help="the CSV file")


def since_arg(text: str) -> datetime:
    """`--since`: an ISO date or time (naive means UTC), or a span back from now."""
    try:
        when = read_since(text, datetime.now(UTC))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def progress(items: Sequence[T], what: str) -> Iterator[T]:
    """`items` with a progress bar on stderr, shown only when stderr is a terminal."""
    yield from tqdm(items, what, **_BAR)


def chunks(items: Sequence[T], what: str) -> Iterator[Sequence[T]]:
    """`items` in slices of CHUNK, with a bar that moves one slice at a time."""
    with tqdm(desc=what, total=len(items), **_BAR) as bar:
        for start in range(0, len(items), CHUNK):
            part = items[start : start + CHUNK]
            yield part
            bar.update(len(part))


# --- deliveries ---------------------------------------------------------------------------------


def deliveries_list_command(settings: Settings, args: argparse.Namespace) -> int:
    store = known_store(settings, args.store)
    runtime = open_runtime(settings, args.config).runtime
    rows = _listing(runtime, failed=args.failed, store=store, limit=args.limit)
    if not rows:
        print("no deliveries" + (" failed" if args.failed else ""))
        return 0
    print(f"{'id':>6}  {'received (UTC)':<19}  {'store':<12} {'platform':<11} "
          f"{'topic':<28} {'status':<9}  error")  # fmt: skip
    for row in rows:
        error = f"  {row.error}" if row.error else ""
        print(
            f"{row.id:>6}  {row.received_at:%Y-%m-%d %H:%M:%S}  {row.store_id:<12} "
            f"{row.platform:<11} {row.topic or '-':<28} {row.status:<9}{error}"
        )
    return 0


def _listing(runtime: Runtime, *, failed: bool, store: str | None, limit: int) -> Sequence[Any]:
    from cartback.domain.records import DeliveryStatus

    status = DeliveryStatus.FAILED if failed else None
    with runtime.store.reading() as tx:
        return tx.deliveries.listing(status=status, store_id=store, limit=limit)


def deliveries_replay_command(settings: Settings, args: argparse.Namespace) -> int:
    from cartback.engine.replay import failed_ids, replay

    runtime = open_runtime(settings, args.config).runtime
    ids = failed_ids(runtime) if args.failed else args.id
    results = [result for one in progress(ids, "replay") for result in replay(runtime, [one])]
    for result in results:
        print(f"{result.delivery_id:>6}  {result.outcome:<9}  {result.detail}")
    if not results:
        print("nothing to replay")
    return 1 if any(r.outcome == "failed" for r in results) else 0


# --- imports ------------------------------------------------------------------------------------


def touches_import_command(settings: Settings, args: argparse.Namespace) -> int:
    from cartback.csv_files import CsvFileError, read_touches_csv

    text = Path(args.file).read_text(encoding="utf-8-sig")
    try:
        rows = read_touches_csv(text, default_country=settings.stores[0].default_country)
    except CsvFileError as exc:
        raise OperatorError(f"{args.file}: {exc}") from None
    runtime = open_runtime(settings, args.config).runtime
    added = _record_touches(runtime, rows)
    print(f"{len(rows)} touches read, {added} new, {len(rows) - added} already known")
    return 0


def _record_touches(runtime: Runtime, rows: Sequence[Any]) -> int:
    now = runtime.clock.now()
    with runtime.store.transaction() as tx:
        return sum(tx.touches.add_many(part, now) for part in chunks(rows, "touches"))


def consent_import_command(settings: Settings, args: argparse.Namespace) -> int:
    from cartback.csv_files import CsvFileError, read_consent_csv

    text = Path(args.file).read_text(encoding="utf-8-sig")
    stores = {store.id: store.default_country for store in settings.stores}
    try:
        records = read_consent_csv(text, stores)
    except CsvFileError as exc:
        raise OperatorError(f"{args.file}: {exc}") from None
    runtime = open_runtime(settings, args.config).runtime
    added = _record_consent(runtime, records, f"import:{Path(args.file).name}")
    print(f"{len(records)} consent entries read, {added} new, {len(records) - added} already known")
    return 0


def _record_consent(runtime: Runtime, records: Sequence[Any], source: str) -> int:
    now = runtime.clock.now()
    with runtime.store.transaction() as tx:
        return sum(
            tx.consent.add_once(record.entry(source, now))
            for record in progress(records, "consent")
        )


def codes_import_command(settings: Settings, args: argparse.Namespace) -> int:
    from cartback.csv_files import CsvFileError, read_codes_csv

    store = known_store(settings, args.store) or ""
    try:
        codes = read_codes_csv(Path(args.file))
    except CsvFileError as exc:
        raise OperatorError(f"{args.file}: {exc}") from None
    runtime = open_runtime(settings, args.config).runtime
    added, duplicates, left = _import_codes(runtime, store, codes)
    print(f"{added} codes added, {duplicates} duplicates; {left} unused in the pool")
    return 0


def _import_codes(runtime: Runtime, store: str, codes: Sequence[str]) -> tuple[int, int, int]:
    now = runtime.clock.now()
    added = duplicates = 0
    with runtime.store.transaction() as tx:
        for part in chunks(codes, "codes"):
            result = tx.codes.import_codes(store, part, now, None)
            added, duplicates = added + result.added, duplicates + result.duplicates
        return added, duplicates, tx.codes.remaining(store, now)


# --- tokens, preview --------------------------------------------------------------------


def tokens_command(settings: Settings, _args: argparse.Namespace) -> int:
    for url in webhook_urls(settings):
        if "token=" in url.url:
            print(f"{url.store}: {url.what} webhook URL:")
            print(f"  {url.url}")
    return 0


def preview_command(settings: Settings, args: argparse.Namespace) -> int:
    from cartback.preview import preview

    return preview(settings, args.flow, print)
