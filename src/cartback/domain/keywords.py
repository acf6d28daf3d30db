"""Reply keywords: what a recipient's text asks for. The whole message must be the keyword."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class Intent(StrEnum):
    STOP = "stop"
    START = "start"
    NONE = "none"


STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE", "AFMELD"}
)
START_WORDS = frozenset({"START", "UNSTOP"})
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


def intent(text: str) -> Intent:
    """STOP for "stop", " Stop! ", "STOP." or "afmeld"; START for "start" or "UNSTOP".

    Spaces inside ("OPT OUT") are joined, so "opt out" counts as OPTOUT; anything longer than a
    keyword ("please stop texting") is a conversation, not an instruction.
    """
    word = _normalise(text)
    if word in STOP_WORDS:
        return Intent.STOP
    if word in START_WORDS:
        return Intent.START
    return Intent.NONE


def _normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).strip()
    folded = _EDGES.sub("", folded)
    if re.fullmatch(r"(?i)opt[\s-]*out", folded):
        return "OPTOUT"
    return folded.upper()
