"""`cartback serve | worker | migrate | preview | deliveries | tokens | report | shopify`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from cartback import logs
from cartback.config import ConfigError, Settings, load_config
from cartback.runtime import Runtime, build, prepare_database, worker_thread

log = logging.getLogger("cartback")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.setup(args.log_level)
    try:
        settings = load_config(args.config)
    except ConfigError as exc:
        print(f"cartback: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError:
        print(f"cartback: config file {args.config} does not exist", file=sys.stderr)
        return 2
    command: int = args.func(settings, args)
    return command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cartback", description=__doc__)
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="run the HTTP API (and, unless --no-worker, the worker)"
    )
    _config_arg(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--no-worker", action="store_true", help="API only; run `cartback worker` apart"
    )
    serve.add_argument(
        "--demo", action="store_true", help="also run a simulated shop against this server"
    )
    serve.set_defaults(func=_serve)

    worker = commands.add_parser("worker", help="run the scheduler only")
    _config_arg(worker)
    worker.set_defaults(func=_worker)

    migrate_cmd = commands.add_parser("migrate", help="bring the database schema up to date")
    _config_arg(migrate_cmd)
    migrate_cmd.set_defaults(func=_migrate)

    preview = commands.add_parser("preview", help="render a flow's messages for a sample cart")
    _config_arg(preview)
    preview.add_argument("--flow", required=True, help="the flow's id")
    preview.set_defaults(func=_preview)

    _deliveries_commands(commands)
    _import_commands(commands)
    _shopify_commands(commands)

    tokens = commands.add_parser("tokens", help="print the webhook URLs that carry a token")
    _config_arg(tokens)
    tokens.set_defaults(func=_tokens)

    report = commands.add_parser("report", help="print the recovery report as JSON")
    _config_arg(report)
    report.add_argument("--store", default=None)
    report.set_defaults(func=_report)
    return parser


def _deliveries_commands(commands: Any) -> None:
    deliveries = commands.add_parser("deliveries", help="stored webhook deliveries: list, replay")
    actions = deliveries.add_subparsers(required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list stored deliveries, newest first")
    _config_arg(listing)
    listing.add_argument("--failed", action="store_true", help="only those that failed to parse")
    listing.add_argument("--store", default=None)
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=_deliveries_list)
    replay = actions.add_parser("replay", help="run deliveries through the current code again")
    _config_arg(replay)
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, action="append", help="a delivery id (repeatable)")
    which.add_argument("--failed", action="store_true", help="every delivery that failed")
    replay.set_defaults(func=_deliveries_replay)


def _import_commands(commands: Any) -> None:
    touches = commands.add_parser("touches", help="promotional sends of other systems")
    actions = touches.add_subparsers(required=True, metavar="ACTION")
    load = actions.add_parser("import", help="import a CSV: phone,email,channel,sent_at,source")
    _config_arg(load)
    load.add_argument("file")
    load.set_defaults(func=_touches_import)
    consent = commands.add_parser("consent", help="consent given elsewhere")
    actions = consent.add_subparsers(required=True, metavar="ACTION")
    load = actions.add_parser(
        "import", help="import a CSV: store,phone,email,channel,granted,occurred_at,wording"
    )
    _config_arg(load)
    load.add_argument("file")
    load.set_defaults(func=_consent_import)
    codes = commands.add_parser("codes", help="discount code pools (non-Shopify stores)")
    actions = codes.add_subparsers(required=True, metavar="ACTION")
    load = actions.add_parser("import", help="import a CSV of single-use codes, one per row")
    _config_arg(load)
    load.add_argument("--store", required=True)
    load.add_argument("file")
    load.set_defaults(func=_codes_import)


def _shopify_commands(commands: Any) -> None:
    shopify = commands.add_parser("shopify", help="Shopify stores: connect")
    actions = shopify.add_subparsers(required=True, metavar="ACTION")
    connect = actions.add_parser(
        "connect", help="subscribe the shop to every webhook topic cartback reads, at public_url"
    )
    _config_arg(connect)
    connect.add_argument("--store", required=True, help="the Shopify store's id")
    connect.add_argument("--check", action="store_true", help="only report; change nothing")
    connect.set_defaults(func=_shopify_connect)


def _shopify_connect(settings: Settings, args: argparse.Namespace) -> int:
    from cartback.integrations.shopify_connect import run_connect

    return run_connect(settings, args.store, args.check, print)


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", required=True, help="the YAML config file")


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from cartback.api.app import create_app

    runtime = _runtime(settings, echo_outbox=args.demo)
    worker = None if args.no_worker else worker_thread(runtime)
    if worker is not None:
        worker.start()
    demo = None
    if args.demo:
        from cartback.demo import DemoShop

        demo = DemoShop(settings, f"http://{args.host}:{args.port}")
        demo.start()
    try:
        uvicorn.run(create_app(runtime), host=args.host, port=args.port, log_level="warning")
    finally:
        for thread in (demo, worker):
            if thread is not None:
                thread.stop()
                thread.join(timeout=10)
    return 0


def _worker(settings: Settings, _args: argparse.Namespace) -> int:
    runtime = _runtime(settings)
    worker = worker_thread(runtime)
    stopped = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    worker.start()
    log.info("worker started", extra={"database": runtime.store.kind})
    stopped.wait()
    worker.stop()
    worker.join(timeout=30)
    log.info("worker stopped")
    return 0


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from cartback.store.sql import SqlStore

    runtime = _runtime(settings, migrate_now=True)
    revision = runtime.store.revision() if isinstance(runtime.store, SqlStore) else None
    print(f"database at revision {revision}")
    return 0


def _deliveries_list(settings: Settings, args: argparse.Namespace) -> int:
    from cartback.domain.records import DeliveryStatus

    runtime = _runtime(settings)
    status = DeliveryStatus.FAILED if args.failed else None
    with runtime.store.reading() as tx:
        rows = tx.deliveries.listing(status=status, store_id=args.store, limit=args.limit)
    for row in rows:
        error = f"  {row.error}" if row.error else ""
        print(
            f"{row.id:>6}  {row.received_at:%Y-%m-%d %H:%M:%S}  {row.store_id:<12} "
            f"{row.platform:<11} {row.topic or '-':<28} {row.status:<9}{error}"
        )
    if not rows:
        print("no deliveries" + (" failed" if args.failed else ""))
    return 0


def _deliveries_replay(settings: Settings, args: argparse.Namespace) -> int:
    from cartback.engine.replay import failed_ids, replay

    runtime = _runtime(settings)
    ids = failed_ids(runtime) if args.failed else args.id
    results = replay(runtime, ids)
    for result in results:
        print(f"{result.delivery_id:>6}  {result.outcome:<9}  {result.detail}")
    if not results:
        print("nothing to replay")
    return 1 if any(r.outcome == "failed" for r in results) else 0


def _touches_import(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from cartback.csv_files import CsvFileError, read_touches_csv

    text = Path(args.file).read_text(encoding="utf-8-sig")
    try:
        rows = read_touches_csv(text, default_country=settings.stores[0].default_country)
    except CsvFileError as exc:
        print(f"cartback: {args.file}: {exc}", file=sys.stderr)
        return 2
    runtime = _runtime(settings)
    with runtime.store.transaction() as tx:
        added = tx.touches.add_many(rows, runtime.clock.now())
    print(f"{len(rows)} touches read, {added} new, {len(rows) - added} already known")
    return 0


def _consent_import(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from cartback.csv_files import CsvFileError, read_consent_csv

    text = Path(args.file).read_text(encoding="utf-8-sig")
    stores = {store.id: store.default_country for store in settings.stores}
    try:
        records = read_consent_csv(text, stores)
    except CsvFileError as exc:
        print(f"cartback: {args.file}: {exc}", file=sys.stderr)
        return 2
    runtime = _runtime(settings)
    now = runtime.clock.now()
    source = f"import:{Path(args.file).name}"
    with runtime.store.transaction() as tx:
        added = sum(tx.consent.add_once(record.entry(source, now)) for record in records)
    print(f"{len(records)} consent entries read, {added} new, {len(records) - added} already known")
    return 0


def _codes_import(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from cartback.csv_files import CsvFileError, read_codes_csv

    if settings.store(args.store) is None:
        print(f"cartback: no store {args.store!r} in the config", file=sys.stderr)
        return 2
    try:
        codes = read_codes_csv(Path(args.file))
    except CsvFileError as exc:
        print(f"cartback: {args.file}: {exc}", file=sys.stderr)
        return 2
    runtime = _runtime(settings)
    now = runtime.clock.now()
    with runtime.store.transaction() as tx:
        result = tx.codes.import_codes(args.store, codes, now, None)
        left = tx.codes.remaining(args.store, now)
    print(f"{result.added} codes added, {result.duplicates} duplicates; {left} unused in the pool")
    return 0


def _tokens(settings: Settings, _args: argparse.Namespace) -> int:
    from cartback.integrations.woocommerce_cart_recovery import url_token

    for store in settings.stores:
        secret = store.webhook_secret.get_secret_value() if store.webhook_secret else ""
        base = f"{settings.public_url}/webhooks"
        if store.platform == "woocommerce" and secret:
            token = url_token(secret, store.id)
            print(f"{store.id}: Cart Abandonment Recovery plugin webhook URL:")
            print(f"  {base}/woocommerce/{store.id}/cart-abandonment?token={token}")
    return 0


def _preview(settings: Settings, args: argparse.Namespace) -> int:
    from cartback.preview import preview

    return preview(settings, args.flow, print)


def _report(settings: Settings, args: argparse.Namespace) -> int:
    from cartback.api.views import report_answer

    runtime = _runtime(settings)
    print(report_answer(runtime, args.store, None).model_dump_json(indent=2))
    return 0


def _runtime(
    settings: Settings, *, echo_outbox: bool = False, migrate_now: bool = False
) -> Runtime:
    runtime = build(settings, echo_outbox=echo_outbox)
    prepare_database(runtime, auto_migrate=migrate_now)
    return runtime


if __name__ == "__main__":
    sys.exit(main())
