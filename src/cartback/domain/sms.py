"""SMS encoding and segment counting, as the network will bill it.

A text goes as GSM-7 when every character is in the GSM 03.38 default alphabet or its
extension table (an extension character is sent as ESC + char: two septets); otherwise the
whole text goes as UCS-2, counted in UTF-16 code units. A long text is split into parts that
each lose room to the concatenation header. An escape pair or a surrogate pair is never split
across parts, so such a part may hold one unit less than its limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


# GSM 03.38 default alphabet in code order, 0x00-0x7F, with 0x1B (escape) left out.
GSM7_BASIC = frozenset(
    "@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5"
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\u00c6\u00e6\u00df\u00c9"
    " !\"#\u00a4%&'()*+,-./"
    "0123456789:;<=>?"
    "\u00a1ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZ\u00c4\u00d6\u00d1\u00dc\u00a7"
    "\u00bfabcdefghijklmno"
    "pqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|\u20ac")

SINGLE_LIMIT = {Encoding.GSM7: 160, Encoding.UCS2: 70}
PART_LIMIT = {Encoding.GSM7: 153, Encoding.UCS2: 67}

_TRANSLITERATIONS: dict[str, str] = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u2039\u203a\u00b4`\u02bc", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
    **dict.fromkeys("\u2022\u2023\u2043\u25e6", "-"),
    **dict.fromkeys("\u00a0\u1680\u202f\u205f\u3000\t", " "),
    **dict.fromkeys(map(chr, range(0x2000, 0x200B)), " "),  # en quad .. hair space
    **dict.fromkeys("\u200b\u2060\ufeff\u00ad", ""),  # zero-width and soft hyphen
    **dict.fromkeys("\u2028\u2029", "\n"),
    "\u2026": "...",
}
_TRANSLATION_TABLE = str.maketrans(_TRANSLITERATIONS)


@dataclass(frozen=True, slots=True)
class SmsInfo:
    encoding: Encoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int
    parts: tuple[str, ...]


def analyse(text: str) -> SmsInfo:
    encoding = encoding_for(text)
    weights = [_weight(char, encoding) for char in text]
    units = sum(weights)
    if units <= SINGLE_LIMIT[encoding]:
        parts: tuple[str, ...] = (text,)
    else:
        parts = _split(text, weights, PART_LIMIT[encoding])
    return SmsInfo(encoding=encoding, units=units, segments=len(parts), parts=parts)


def encoding_for(text: str) -> Encoding:
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        return Encoding.GSM7
    return Encoding.UCS2


def segment_cost(segments: int, cost_per_segment: Decimal) -> Decimal:
    if segments < 0:
        raise ValueError(f"segments must not be negative, got {segments}")
    return cost_per_segment * segments


def transliterate(text: str) -> str:
    """Replace typographic characters that would force UCS-2 with their GSM-7 look-alikes."""
    return text.translate(_TRANSLATION_TABLE)


def _weight(char: str, encoding: Encoding) -> int:
    if encoding is Encoding.GSM7:
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def _split(text: str, weights: list[int], limit: int) -> tuple[str, ...]:
    parts: list[str] = []
    begin, used = 0, 0
    for index, weight in enumerate(weights):
        if used + weight > limit:
            parts.append(text[begin:index])
            begin, used = index, 0
        used += weight
    parts.append(text[begin:])
    return tuple(parts)
