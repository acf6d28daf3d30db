"""Reply keywords."""

from __future__ import annotations

import pytest

from cartback.domain.keywords import Intent, intent


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        " Stop ",
        "STOP!",
        "stop.",
        "StopAll",
        "unsubscribe",
        "CANCEL",
        "end",
        "Quit",
        "OPTOUT",
        "opt out",
        "Opt-Out",
        "revoke",
        "AFMELD",
        "Afmeld!",
        "\tstop\n",
        "«stop»",
    ],
)
def test_stop_words_in_any_case_and_punctuation(text: str) -> None:
    assert intent(text) == Intent.STOP


@pytest.mark.parametrize("text", ["START", "start", " Unstop. "])
def test_start_words(text: str) -> None:
    assert intent(text) == Intent.START


@pytest.mark.parametrize(
    "text", ["", "please stop texting me", "stopp", "STOP IT", "thanks!", "ends", "backend"]
)
def test_anything_else_is_not_an_instruction(text: str) -> None:
    assert intent(text) == Intent.NONE
