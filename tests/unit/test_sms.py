from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartback.domain.sms import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    PART_LIMIT,
    SINGLE_LIMIT,
    Encoding,
    analyse,
    segment_cost,
    transliterate,
)

CYRILLIC = "\u0436"  # forces UCS-2, one UTF-16 unit
EMOJI = "\U0001f600"  # two UTF-16 units


@pytest.mark.parametrize(
    ("length", "segments"),
    [(0, 1), (1, 1), (160, 1), (161, 2), (153 * 2, 2), (153 * 2 + 1, 3), (153 * 3, 3)],
)
def test_gsm_segment_boundaries(length: int, segments: int) -> None:
    info = analyse("a" * length)
    assert info.encoding is Encoding.GSM7
    assert info.units == length
    assert info.segments == segments


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (67 * 2, 2), (67 * 2 + 1, 3)])
def test_ucs2_segment_boundaries(length: int, segments: int) -> None:
    info = analyse(CYRILLIC * length)
    assert info.encoding is Encoding.UCS2
    assert info.units == length
    assert info.segments == segments


def test_empty_text_is_one_empty_segment() -> None:
    info = analyse("")
    assert (info.encoding, info.units, info.segments, info.parts) == (Encoding.GSM7, 0, 1, ("",))


def test_danish_letters_are_gsm7() -> None:
    info = analyse("Hej Søren, din kurv venter: æøåÆØÅ")
    assert info.encoding is Encoding.GSM7


def test_euro_sign_counts_two_septets() -> None:
    info = analyse("Kun 99€")
    assert info.encoding is Encoding.GSM7
    assert info.units == 8


def test_extension_character_is_not_split_from_its_escape() -> None:
    text = "a" * 152 + "€" + "a" * 10
    info = analyse(text)
    assert info.parts == ("a" * 152, "€" + "a" * 10)


def test_extension_character_fits_exactly_at_part_end() -> None:
    text = "a" * 151 + "€" + "a" * 10
    assert analyse(text).parts == ("a" * 151 + "€", "a" * 10)


def test_emoji_is_not_split_at_the_part_boundary() -> None:
    text = CYRILLIC * 66 + EMOJI + CYRILLIC * 10
    info = analyse(text)
    assert info.encoding is Encoding.UCS2
    assert info.units == 78
    assert info.parts == (CYRILLIC * 66, EMOJI + CYRILLIC * 10)


def test_one_non_gsm_character_turns_the_whole_text_ucs2() -> None:
    info = analyse("a" * 100 + "\u201c")
    assert info.encoding is Encoding.UCS2
    assert info.segments == 2


def test_segment_cost() -> None:
    assert segment_cost(3, Decimal("0.25")) == Decimal("0.75")
    assert segment_cost(0, Decimal("0.25")) == Decimal("0")
    with pytest.raises(ValueError, match="negative"):
        segment_cost(-1, Decimal("0.25"))


def test_transliterate_typographic_punctuation() -> None:
    text = "\u201cTilbud\u201d \u2013 kun i dag\u2026 \u2018nu\u2019\u00a0\u2022 50\u2212%"
    assert transliterate(text) == "\"Tilbud\" - kun i dag... 'nu' - 50-%"
    assert analyse(transliterate(text)).encoding is Encoding.GSM7


def test_transliterate_leaves_other_characters_alone() -> None:
    assert transliterate("Привет 😀 å€") == "Привет 😀 å€"


GSM_CHARS = sorted(GSM7_BASIC | GSM7_EXTENSION)
REPLACED_CHARS = sorted(
    "\u2018\u2019\u201c\u201d\u2013\u2014\u2212\u00a0\u2009\u202f\u2026\u2022\u200b\u00ab\u00bb"
)
gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=700)
any_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(GSM_CHARS),
        st.sampled_from([CYRILLIC, EMOJI, "\u00e1", "\U0001f44d"]),
        st.characters(codec="utf-8"),
    ),
    max_size=700,
)


def _units(part: str, encoding: Encoding) -> int:
    if encoding is Encoding.GSM7:
        return sum(2 if char in GSM7_EXTENSION else 1 for char in part)
    return len(part.encode("utf-16-le")) // 2


@given(st.one_of(gsm_text, any_text))
def test_parts_rebuild_the_text_and_fit_their_limits(text: str) -> None:
    info = analyse(text)
    assert info.segments == len(info.parts)
    assert "".join(info.parts) == text
    assert info.units == sum(_units(part, info.encoding) for part in info.parts)
    if info.segments == 1:
        assert info.units <= SINGLE_LIMIT[info.encoding]
    else:
        assert info.units > SINGLE_LIMIT[info.encoding]
        assert all(_units(part, info.encoding) <= PART_LIMIT[info.encoding] for part in info.parts)
        assert all(part for part in info.parts)


@given(st.one_of(gsm_text, any_text))
def test_parts_are_filled_greedily(text: str) -> None:
    info = analyse(text)
    limit = PART_LIMIT[info.encoding]
    for part, following in zip(info.parts, info.parts[1:], strict=False):
        assert _units(part + following[0], info.encoding) > limit


@given(gsm_text)
def test_gsm_only_text_is_gsm7(text: str) -> None:
    assert analyse(text).encoding is Encoding.GSM7


@given(st.text(alphabet=st.sampled_from(GSM_CHARS + REPLACED_CHARS), max_size=300))
def test_transliterated_text_is_gsm7(text: str) -> None:
    assert analyse(transliterate(text)).encoding is Encoding.GSM7


@given(gsm_text)
def test_transliterate_keeps_gsm_text(text: str) -> None:
    assert transliterate(text) == text
