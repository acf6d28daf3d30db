"""Several shops in one cartback (an agency): each store may bring its own channel settings and
its own API token.

A store's `channels.sms` or `channels.email` without a `provider` changes only the keys it
names in the global channel (a sender, a cost per segment, an email `from`); with a `provider`
it is a channel of its own (another inMobile or Twilio account). This merge happens on the raw
config, before validation, so every key is still checked and named at its own line.
"""

from __future__ import annotations

from typing import Any

from cartback.config.base import _KeyedError

CHANNELS = ("sms", "email")


def merge_store_channels(data: Any) -> Any:
    """Fill each store's provider-less channel from the global one (raw config, in place)."""
    if not isinstance(data, dict) or not isinstance(data.get("stores"), list):
        return data
    found = data.get("channels")
    shared: dict[str, Any] = found if isinstance(found, dict) else {}
    for store in data["stores"]:
        own = store.get("channels") if isinstance(store, dict) else None
        if not isinstance(own, dict):
            continue
        for name in CHANNELS:
            mine, base = own.get(name), shared.get(name)
            if isinstance(mine, dict) and "provider" not in mine and isinstance(base, dict):
                own[name] = {**base, **mine}
    return data


def check_tokens(global_token: str, store_tokens: list[str | None]) -> None:
    """A token names one caller: the admin's, or one store's."""
    seen: dict[str, int] = {}
    for index, token in enumerate(store_tokens):
        if token is None:
            continue
        if token == global_token:
            raise _KeyedError(
                "is the global api_token; a store's token must be its own",
                *("stores", index, "api_token"),
            )
        if token in seen:
            raise _KeyedError(
                f"is already the token of stores[{seen[token]}]", *("stores", index, "api_token")
            )
        seen[token] = index
