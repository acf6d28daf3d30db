"""Config for running cartback: who may read `/metrics`, and how long personal data is kept."""

from __future__ import annotations

from cartback.config.base import PositiveDuration, _Model


class MetricsConfig(_Model):
    """`public: true` opens `/metrics` to anyone who reaches it (a private network's scraper);
    otherwise it needs the API token, like `/api`."""

    public: bool = False


class RetentionConfig(_Model):
    """How long personal data is kept; a missing key keeps it for good.

    `raw_deliveries`: the stored webhook bodies (name, address, phone, basket);
    `message_texts`: the words of sent messages and their recipients' addresses;
    `clicks`: the clicks on short links (times, user agents).
    What the report counts (messages, costs, orders, clicked or not) stays.
    """

    raw_deliveries: PositiveDuration | None = None
    message_texts: PositiveDuration | None = None
    clicks: PositiveDuration | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.raw_deliveries, self.message_texts, self.clicks))
