"""Engagement conditions: `opened: email`, `clicked: any|sms|email|rcs` and their `not:`."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cartback.domain.flow import Guard
from cartback.domain.segment_parsing import parse_condition
from cartback.domain.segments import SegmentError
from tests.unit.test_segments import FACTS

NOTHING = FACTS  # by default nothing was opened or clicked
EMAIL_OPENED = replace(FACTS, opened=frozenset({"email"}))
SMS_CLICKED = replace(FACTS, clicked=frozenset({"sms"}))


@pytest.mark.parametrize(
    ("condition", "facts", "holds", "explained"),
    [
        ({"opened": "email"}, EMAIL_OPENED, True, "an email was opened"),
        ({"opened": "email"}, NOTHING, False, "no email was opened"),
        ({"not": {"opened": "email"}}, NOTHING, True, "no email was opened"),
        ({"not": {"opened": "email"}}, EMAIL_OPENED, False, "an email was opened"),
        ({"opened": "any"}, EMAIL_OPENED, True, "a message was opened"),
        ({"clicked": "any"}, SMS_CLICKED, True, "a link in a message was clicked"),
        ({"clicked": "any"}, EMAIL_OPENED, False, "no link in a message was clicked"),
        ({"clicked": "sms"}, SMS_CLICKED, True, "a link in an SMS was clicked"),
        ({"clicked": "email"}, SMS_CLICKED, False, "no link in an email was clicked"),
        ({"not": {"clicked": "sms"}}, SMS_CLICKED, False, "a link in an SMS was clicked"),
        ({"clicked": "rcs"}, NOTHING, False, "no link in an RCS message was clicked"),
    ],
)
def test_engagement_holds_and_says_why(
    condition: object, facts: object, holds: bool, explained: str
) -> None:
    parsed = parse_condition(condition, "flows[0].steps[2].if")
    assert parsed.holds(facts) is holds  # type: ignore[arg-type]
    assert parsed.explain(facts) == explained  # type: ignore[arg-type]


def test_a_step_condition_reads_in_words_on_the_timeline() -> None:
    guard = Guard(parse_condition({"not": {"opened": "email"}}, "x"), "the condition")
    assert guard.explain(NOTHING) == "the condition holds: no email was opened"


def test_engagement_combines_with_other_conditions() -> None:
    either = parse_condition({"any": [{"opened": "email"}, {"clicked": "sms"}]}, "x")
    assert either.holds(SMS_CLICKED) and not either.holds(NOTHING)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"opened": "sms"}, "flows[0].if.opened: expected one of email, any, got 'sms'"),
        ({"clicked": "push"}, "flows[0].if.clicked: expected one of any, sms, email, rcs"),
        ({"clicked": None}, "flows[0].if.clicked: expected one of any, sms, email, rcs"),
    ],
)
def test_unknown_channels_are_named(condition: object, message: str) -> None:
    with pytest.raises(SegmentError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_condition(condition, "flows[0].if")
