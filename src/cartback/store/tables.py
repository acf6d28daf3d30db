"""The schema, one for SQLite and PostgreSQL. Migrations under `migrations/` create exactly this.

The tables of what cartback does with carts are here; its journals (experiment winners, privacy
requests, diagnostics alerts) are in `journal_tables.py`; both share `metadata`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from cartback.store.journal_tables import alerts, experiment_winners, privacy_log
from cartback.store.metadata import BigId, id_column, metadata
from cartback.store.types import Amount, UTCDateTime

__all__ = ["alerts", "experiment_winners", "metadata", "privacy_log"]  # and the tables below


def _only_where(condition: str) -> dict[str, Any]:
    """A partial index's condition, the same on both databases."""
    return {"postgresql_where": text(condition), "sqlite_where": text(condition)}


deliveries = Table(
    "deliveries",
    metadata,
    id_column(),
    Column("platform", String(32), nullable=False),
    Column("store_id", String(64), nullable=False),
    Column("topic", String(128)),
    Column("delivery_key", String(255)),
    Column("received_at", UTCDateTime, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),  # received | processed | failed
    Column("error", Text),
    Column("processed_at", UTCDateTime),
    Column("attempts", Integer, nullable=False, server_default="0"),
    # Deliveries of one sequence (a cart) are applied in arrival order; see store/sql/deliveries.
    Column("sequence_key", String(320)),
    Column("claimed_until", UTCDateTime),  # a worker's lease on a received delivery
    UniqueConstraint("platform", "store_id", "delivery_key"),
    Index(None, "status", "received_at"),
    Index(None, "store_id", "id"),  # a store's page of deliveries, newest first
    Index("ix_deliveries_to_apply", "id", **_only_where("status = 'received'")),
    # The failed ones, newest first (of every store, and of one): what an operator pages
    # through to replay. Few rows, and only those, are in them.
    Index("ix_deliveries_failed", "id", **_only_where("status = 'failed'")),
    Index("ix_deliveries_failed_by_store", "store_id", "id", **_only_where("status = 'failed'")),
    Index("ix_deliveries_sequence", "sequence_key", "id", **_only_where("status = 'received'")),
)

carts = Table(
    "carts",
    metadata,
    id_column(),
    Column("store_id", String(64), nullable=False),
    Column("cart_key", String(255), nullable=False),
    Column("cart_token", String(255)),
    Column("customer_external_id", String(64)),
    Column("email", String(320)),
    Column("phone", String(20)),
    Column("phone_raw", String(64)),
    Column("first_name", String(200)),
    Column("last_name", String(200)),
    Column("country", String(2)),
    Column("currency", String(3), nullable=False),
    Column("total", Amount, nullable=False),
    Column("items", JSON, nullable=False),
    Column("discount_codes", JSON, nullable=False),
    Column("recovery_url", Text),
    Column("sms_consent", Boolean),
    Column("email_consent", Boolean),
    Column("status", String(16), nullable=False),  # open | abandoned | purchased | deleted
    Column("occurred_at", UTCDateTime, nullable=False),  # platform time of the latest update
    Column("last_activity_at", UTCDateTime, nullable=False),
    Column("update_count", Integer, nullable=False, server_default="1"),
    Column("customer_orders_count", Integer),  # the platform's count, where it sends one
    Column("customer_total_spent", Amount),
    Column("customer_tags", JSON),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("abandoned_at", UTCDateTime),
    Column("purchased_at", UTCDateTime),
    Column("deleted_at", UTCDateTime),
    Column("phone_source", String(64)),  # the field the phone came from
    Column("store_currency", String(3)),  # set when the buyer's currency is not the store's
    Column("store_total", Amount),  # the basket in store_currency, where the shop said
    Column("locale", String(35)),  # the buyer's language ("da-DK"), where the platform gives it
    Column("checkout_stage", String(32)),  # contact | shipping_address | shipping_method | payment
    Column("source_name", String(255)),
    Column("landing_site", Text),
    Column("referring_site", Text),
    UniqueConstraint("store_id", "cart_key"),
    Index(None, "store_id", "cart_token"),
    Index(None, "store_id", "email"),
    Index(None, "store_id", "phone"),
    Index(None, "store_id", "customer_external_id"),
    Index(None, "store_id", "status", "updated_at"),
    Index(None, "store_id", "abandoned_at"),
    Index(None, "store_id", "created_at"),  # the dashboard's activity of a period
    Index(None, "store_id", "updated_at"),  # a store's carts, newest first (/api/carts)
)

runs = Table(
    "runs",
    metadata,
    id_column(),
    Column("cart_id", BigId, ForeignKey("carts.id"), nullable=False, unique=True),
    Column("flow_id", String(64), nullable=False),
    Column("step_index", Integer, nullable=False),  # -1: waiting for abandonment
    Column("status", String(16), nullable=False),  # pending | done | cancelled
    Column("next_run_at", UTCDateTime),
    Column("claim_token", String(32)),
    Column("claimed_at", UTCDateTime),
    Column("ended_reason", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("holdout", Boolean),  # null until the cart is assigned in its flow
    Column("arms", JSON),  # {experiment id: arm}, fixed at assignment
    Index("ix_runs_due", "next_run_at", **_only_where("status = 'pending'")),
    Index(  # the report's assigned carts: as many as assigned, whatever else is stored
        "ix_runs_assigned", "cart_id", **_only_where("holdout IS NOT NULL")
    ),
)

decisions = Table(
    "decisions",
    metadata,
    id_column(),
    Column("cart_id", BigId, ForeignKey("carts.id"), nullable=False),
    Column("run_id", BigId, ForeignKey("runs.id")),
    Column("flow_id", String(64)),
    Column("step_index", Integer),
    Column("at", UTCDateTime, nullable=False),
    Column("action", String(16), nullable=False),  # send | skip | defer | cancel | abandon
    Column("reason", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("until", UTCDateTime),
    Index(None, "cart_id", "at"),
    Index(None, "reason"),
    Index(None, "at"),  # the dashboard's decisions of a period
    # the report's skips of a period: those decisions only (NOT_SENT), however many others
    Index("ix_decisions_skipped_at", "at", **_only_where("action IN ('cancel', 'skip')")),
)

messages = Table(
    "messages",
    metadata,
    Column("id", String(40), primary_key=True),  # ours; the gateway's idempotency key
    Column("store_id", String(64), nullable=False),
    Column("cart_id", BigId, ForeignKey("carts.id"), nullable=False),
    Column("run_id", BigId, ForeignKey("runs.id")),
    Column("flow_id", String(64)),
    Column("step_index", Integer),
    Column("channel", String(16), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("sender", String(64)),
    Column("body", Text, nullable=False),
    Column("encoding", String(8)),
    Column("segments", Integer, nullable=False, server_default="0"),
    Column("cost", Amount, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("link_code", String(32)),
    Column("discount_code", String(64)),
    # a Shopify code chosen but not yet known to be created (see engine/discounting.py)
    Column("discount_pending", Boolean, nullable=False, server_default=false()),
    # queued | sent | delivered | failed | undelivered | skipped
    Column("status", String(16), nullable=False),
    Column("provider_message_id", String(128)),
    Column("provider_segments", Integer),  # the gateway's own count, beside ours
    Column("channel_used", String(16)),  # rcs that reached the phone as sms says sms here
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("error_code", String(32)),
    Column("error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("status_at", UTCDateTime),
    Column("experiment_id", String(64)),  # the step's A/B test
    Column("arm", String(64)),  # and the variant this message is
    UniqueConstraint("run_id", "step_index"),
    Index(None, "provider_message_id"),
    Index(None, "cart_id"),
    Index(None, "store_id", "created_at"),
    Index(None, "recipient", "created_at"),
    Index(  # retention: messages whose words and recipient are still kept
        "ix_messages_unpurged", "created_at", **_only_where("recipient <> '[erased]'")
    ),
)

links = Table(
    "links",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("message_id", String(40), ForeignKey("messages.id"), nullable=False),
    Column("cart_id", BigId, ForeignKey("carts.id"), nullable=False),
    Column("target_url", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

clicks = Table(
    "clicks",
    metadata,
    id_column(),
    Column("code", String(32), ForeignKey("links.code"), nullable=False),
    Column("message_id", String(40), nullable=False),
    Column("cart_id", BigId, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("user_agent", String(300)),
    Column("bot", Boolean, nullable=False, server_default=false()),
    Column("bot_reason", String(120)),  # why a machine made it: never counts for attribution
    Column("agent_class", String(16)),  # browser | app | preview | crawler | scanner | machine
    Index(None, "cart_id", "at"),
    Index(None, "message_id"),  # a message's clicks: the report, a run's engagement
    Index(None, "at"),  # the clicks of a period
    Index(  # retention: clicks whose user agent is still kept
        "ix_clicks_unpurged", "at", **_only_where("user_agent IS NOT NULL")
    ),
)

opens = Table(
    "opens",
    metadata,
    id_column(),
    Column("message_id", String(40), ForeignKey("messages.id"), nullable=False),
    Column("cart_id", BigId, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("user_agent", String(300)),
    Column("bot", Boolean, nullable=False, server_default=false()),
    Column("bot_reason", String(120)),
    Index(None, "cart_id", "at"),  # the report's opens of a period's carts
    Index(None, "message_id"),
    Index(None, "at"),  # the opens of a period
)

orders = Table(
    "orders",
    metadata,
    id_column(),
    Column("store_id", String(64), nullable=False),
    Column("order_key", String(64), nullable=False),
    Column("cart_id", BigId, ForeignKey("carts.id")),
    Column("checkout_token", String(255)),
    Column("cart_token", String(255)),
    Column("customer_external_id", String(64)),
    Column("email", String(320)),
    Column("phone", String(20)),
    Column("currency", String(3), nullable=False),
    Column("total", Amount, nullable=False),
    Column("discount_total", Amount, nullable=False),
    Column("paid", Boolean, nullable=False),
    Column("placed_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("recovered", Boolean, nullable=False),
    Column("attributed_message_id", String(40)),
    Column("attribution", String(16)),  # click | send
    Column("status", String(16), nullable=False, server_default="open"),  # an OrderStatus
    Column("test", Boolean, nullable=False, server_default=false()),
    Column("refunded", Amount, nullable=False, server_default="0"),  # the sum of `refunds`
    Column("refunds", JSON),  # {refund key: amount as text}
    UniqueConstraint("store_id", "order_key"),
    Index(None, "store_id", "placed_at"),
    Index(None, "cart_id"),  # a cart's order, and the report's orders of assigned carts
)

consent_ledger = Table(
    "consent_ledger",
    metadata,
    id_column(),
    Column("store_id", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("address", String(320), nullable=False),  # E.164 for sms, lower-cased email
    Column("granted", Boolean, nullable=False),
    Column("customer_external_id", String(64)),
    Column("source", String(128), nullable=False),
    Column("detail", Text),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Index(None, "store_id", "channel", "address", "occurred_at"),
)

suppressions = Table(
    "suppressions",
    metadata,
    id_column(),
    Column("channel", String(16), nullable=False),  # sms | email
    Column("address", String(320), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("source", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("channel", "address"),
)

message_attempts = Table(
    "message_attempts",
    metadata,
    id_column(),
    Column("message_id", String(40), ForeignKey("messages.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),  # sent | failed | retry | skipped
    Column("http_status", Integer),
    Column("error", Text),
    UniqueConstraint("message_id", "number"),
)

inbound_messages = Table(
    "inbound_messages",
    metadata,
    id_column(),
    Column("provider", String(32), nullable=False),
    Column("provider_id", String(128), nullable=False),
    Column("sender", String(20), nullable=False),
    Column("recipient", String(64)),
    Column("text", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("action", String(16)),  # stop | start | none
    UniqueConstraint("provider", "provider_id"),
    Index(None, "sender", "received_at"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("name", String(200), primary_key=True),  # e.g. magento:<store>:carts
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("retry_at", UTCDateTime),
)

discount_codes = Table(
    "discount_codes",
    metadata,
    id_column(),
    Column("store_id", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("imported_at", UTCDateTime, nullable=False),
    Column("used_by_cart_id", BigId, ForeignKey("carts.id")),
    Column("used_at", UTCDateTime),
    Column("expires_at", UTCDateTime),
    UniqueConstraint("store_id", "code"),
    Index(None, "store_id", "used_at"),
)

touches = Table(
    "touches",
    metadata,
    id_column(),
    Column("address", String(320), nullable=False),  # E.164 phone or lower-cased email
    Column("channel", String(16), nullable=False),  # sms | email
    Column("sent_at", UTCDateTime, nullable=False),
    Column("source", String(128), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    UniqueConstraint("address", "channel", "sent_at", "source"),
    Index(None, "address", "sent_at"),
)

secrets = Table(  # secrets cartback made for itself (the signing secret), kept across restarts
    "secrets",
    metadata,
    Column("name", String(64), primary_key=True),  # e.g. signing
    Column("value", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
