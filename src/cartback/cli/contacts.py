"""`cartback contacts export | erase`: a person's data on request, for every platform."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cartback.cli.common import add_command, open_runtime
from cartback.config import Settings
from cartback.domain.privacy import Subject
from cartback.engine.privacy import subject_for_contact
from cartback.errors import InvalidRequest
from cartback.runtime import privacy_requests
from cartback.startup import OperatorError, known_store


def add_commands(commands: Any) -> None:
    contacts = commands.add_parser(
        "contacts",
        help="a person's data: export, erase",
        description="A person's data, by phone number or email address: export, erase.",
    )
    actions = contacts.add_subparsers(required=True, metavar="ACTION")
    export = add_command(
        actions,
        "export",
        "print everything stored about a person as JSON",
        export_command,
        more="Carts, orders, messages, clicks, consent, suppressions, replies, touches and the "
        "raw deliveries that mention them.",
    )
    erase = add_command(
        actions,
        "erase",
        "remove or anonymise everything stored about a person",
        erase_command,
        more="Raw deliveries and message texts included; a withdrawal or STOP is kept as a "
        "keyed hash and still honoured. Prints the audit entry (no personal data).",
        secrets=True,
    )
    for parser in (export, erase):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--phone", help="a phone number (+CC, or local to the store's country)")
        who.add_argument("--email", help="an email address")
        parser.add_argument("--store", help="only this store's records (default: every store)")


def export_command(settings: Settings, args: argparse.Namespace) -> int:
    subject = _subject(settings, args)
    runtime = open_runtime(settings, args.config).runtime
    with runtime.store.reading() as tx:
        document = privacy_requests(runtime).export(tx, subject, runtime.clock.now())
    print(json.dumps(document, indent=2, ensure_ascii=False))
    return 0


def erase_command(settings: Settings, args: argparse.Namespace) -> int:
    subject = _subject(settings, args)
    runtime = open_runtime(settings, args.config).runtime
    with runtime.store.transaction() as tx:
        entry = privacy_requests(runtime).erase(tx, subject, runtime.clock.now(), source="cli")
    counts = ", ".join(f"{table} {count}" for table, count in sorted(entry.counts.items()))
    print(f"erased: {counts or 'nothing was stored about them'}")
    return 0


def _subject(settings: Settings, args: argparse.Namespace) -> Subject:
    store = known_store(settings, args.store)
    config = settings.store(store) if store else None
    country = (config or settings.stores[0]).default_country
    try:
        return subject_for_contact(args.phone or args.email, country, store)
    except InvalidRequest as exc:
        raise OperatorError(str(exc)) from None
