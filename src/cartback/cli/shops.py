"""`cartback shopify connect`: commands that set a shop up through its own API."""

from __future__ import annotations

import argparse
from typing import Any

from cartback.cli.common import add_command
from cartback.config import Settings
from cartback.startup import known_store


def add_commands(commands: Any) -> None:
    shopify = commands.add_parser(
        "shopify", help="Shopify stores: connect", description="Shopify stores: connect."
    )
    actions = shopify.add_subparsers(required=True, metavar="ACTION")
    connect = add_command(
        actions,
        "connect",
        "subscribe the shop to every webhook topic cartback reads, at public_url",
        shopify_connect_command,
        more="Uses the store's Admin API access_token.",
        secrets=True,
    )
    connect.add_argument("--store", required=True, help="the Shopify store's id")
    connect.add_argument("--check", action="store_true", help="only report; change nothing")


def shopify_connect_command(settings: Settings, args: argparse.Namespace) -> int:
    from cartback.integrations.shopify_connect import run_connect

    return run_connect(settings, known_store(settings, args.store) or "", args.check, print)
