"""Reply keywords: what a recipient's text asks for. The whole message must be the keyword.

HELP and INFO ask who is writing and how to reach them; carriers expect an answer with the
sender's name, a contact, and how to opt out (`help_reply`).
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class Intent(StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"
    NONE = "none"


STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE", "AFMELD"}
)
START_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


def intent(text: str) -> Intent:
    """STOP for "stop", " Stop! ", "STOP." or "afmeld"; START for "start" or "UNSTOP";
    HELP for "help" or "info".

    Spaces inside ("OPT OUT") are joined, so "opt out" counts as OPTOUT; anything longer than a
    keyword ("please stop texting") is a conversation, not an instruction.
    """
    word = _normalise(text)
    if word in STOP_WORDS:
        return Intent.STOP
    if word in START_WORDS:
        return Intent.START
    if word in HELP_WORDS:
        return Intent.HELP
    return Intent.NONE


# (who writes, how to reach them, the cost notice US carriers expect), per language
_HELP_TEXTS = {
    "en": (
        "{store}: reminders about your basket.",
        "Help: {contact}.",
        "Msg&data rates may apply.",
    ),
    "da": ("{store}: påmindelser om din kurv.", "Hjælp: {contact}.", ""),
}


def help_reply(
    store_name: str,
    *,
    support_email: str | None = None,
    support_phone: str | None = None,
    opt_out: str | None = "Reply STOP to opt out.",
    language: str = "en",
) -> str:
    """The answer to HELP: who writes, how to reach them, how to opt out."""
    intro, reach, rates = _HELP_TEXTS.get(language.split("-")[0].lower(), _HELP_TEXTS["en"])
    contact = " or ".join(c.strip() for c in (support_email, support_phone) if c and c.strip())
    parts = (
        intro.format(store=store_name.strip()),
        reach.format(contact=contact) if contact else "",
        (opt_out or "").strip(),
        rates,
    )
    return " ".join(part for part in parts if part)


def _normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).strip()
    folded = _EDGES.sub("", folded)
    if re.fullmatch(r"(?i)opt[\s-]*out", folded):
        return "OPTOUT"
    return folded.upper()
