"""Opt-out wording on promotional SMS, where the law or carriers expect it in every message.

In the US, carriers audit A2P traffic against the CTIA Messaging Principles, which expect
opt-out instructions ("Reply STOP to opt out"); Canada's anti-spam law (CASL) asks for an
unsubscribe mechanism in every commercial message. So both are on by default. Elsewhere the
shop decides per country (Denmark: "Afmeld: svar STOP" works only from a sender that can
receive replies, not from an alphanumeric sender name). The text is appended before the
message is counted, so the segment figures include it.
"""

from __future__ import annotations

from collections.abc import Mapping

ANY_COUNTRY = "*"
DEFAULT_OPT_OUT: Mapping[str, str] = {
    "US": "Reply STOP to opt out.",
    "CA": "Reply STOP to opt out.",
}


def merged_opt_out(configured: Mapping[str, str | None]) -> dict[str, str]:
    """The defaults with the shop's settings over them; an empty or null text turns one off."""
    merged: dict[str, str | None] = {**DEFAULT_OPT_OUT, **configured}
    return {country: text for country, text in merged.items() if text and text.strip()}


def opt_out_text(country: str | None, texts: Mapping[str, str]) -> str | None:
    """The recipient country's text, else the `*` text, else none."""
    if country and country.upper() in texts:
        return texts[country.upper()]
    return texts.get(ANY_COUNTRY)


def with_opt_out(text: str, opt_out: str | None) -> str:
    """`text` with the opt-out text on a line of its own, unless it already says it."""
    if not opt_out or opt_out.strip().casefold() in text.casefold():
        return text
    return f"{text}\n{opt_out.strip()}"
