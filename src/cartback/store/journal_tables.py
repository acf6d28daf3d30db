"""The journals: experiment winners called, privacy requests carried out, diagnostics alerts."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Index, Integer, String, Table, Text, UniqueConstraint

from cartback.store.metadata import id_column, metadata
from cartback.store.types import UTCDateTime

experiment_winners = Table(
    "experiment_winners",
    metadata,
    Column("experiment_id", String(64), primary_key=True),
    Column("arm", String(64), nullable=False),
    Column("called_at", UTCDateTime, nullable=False),
    Column("why", Text, nullable=False),
)


privacy_log = Table(
    "privacy_log",
    metadata,
    id_column(),
    Column("at", UTCDateTime, nullable=False),
    Column("action", String(32), nullable=False),  # erase | erase_store | data_request
    Column("source", String(128), nullable=False),  # shopify:customers/redact, cli, api
    Column("store_id", String(64)),
    Column("request_id", String(64)),
    Column("counts", JSON, nullable=False),  # rows changed, by table; never personal data
    Index(None, "at"),
)


alerts = Table(  # a checkout stage whose share of abandoned carts rose beyond its baseline
    "alerts",
    metadata,
    id_column(),
    Column("store_id", String(64), nullable=False),
    Column("stage", String(32), nullable=False),
    Column("day", String(10), nullable=False),  # the store's local date: one alert a day
    Column("raised_at", UTCDateTime, nullable=False),
    Column("carts", Integer, nullable=False),  # abandoned carts at that stage, in the window
    Column("total", Integer, nullable=False),  # abandoned carts in the window
    Column("share", Float, nullable=False),
    Column("baseline", Float, nullable=False),
    Column("z", Float, nullable=False),
    Column("detail", Text, nullable=False),
    UniqueConstraint("store_id", "stage", "day"),
    Index(None, "store_id", "raised_at"),
)
