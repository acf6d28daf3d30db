"""Opt-out wording on promotional SMS where carriers or the law expect it; the HELP answer."""

from __future__ import annotations

from cartback.domain import sms
from cartback.domain.keywords import Intent, help_reply, intent
from cartback.domain.opt_out import merged_opt_out, opt_out_text, with_opt_out

TEXT = "Hi Astrid, your basket at Demo Shop is saved: https://cart.example-shop.dk/r/AbCdEfGhIj"


def test_us_and_canadian_numbers_get_reply_stop_by_default() -> None:
    texts = merged_opt_out({})
    assert opt_out_text("US", texts) == "Reply STOP to opt out."
    assert opt_out_text("ca", texts) == "Reply STOP to opt out."
    assert opt_out_text("DK", texts) is None
    assert opt_out_text(None, texts) is None


def test_the_shop_adds_countries_changes_or_turns_off_defaults() -> None:
    texts = merged_opt_out({"DK": "Afmeld: svar STOP", "US": None, "*": "Reply STOP to stop."})
    assert opt_out_text("DK", texts) == "Afmeld: svar STOP"
    assert opt_out_text("US", texts) == "Reply STOP to stop."  # off for US: the catch-all
    assert opt_out_text("CA", texts) == "Reply STOP to opt out."
    assert opt_out_text("SE", texts) == "Reply STOP to stop."
    assert "US" not in merged_opt_out({"US": ""})


def test_the_opt_out_goes_on_its_own_line_and_counts_in_the_segments() -> None:
    sent = with_opt_out(TEXT, "Reply STOP to opt out.")
    assert sent == TEXT + "\nReply STOP to opt out."
    assert sms.analyse(sent).units == len(TEXT) + 23
    assert with_opt_out(TEXT, None) == TEXT


def test_a_text_that_already_says_it_is_not_changed() -> None:
    own = TEXT + " Reply stop to opt out."
    assert with_opt_out(own, "Reply STOP to opt out.") == own


def test_help_and_info_are_help_requests() -> None:
    for word in ("HELP", "help", " Help! ", "INFO", "info."):
        assert intent(word) is Intent.HELP
    assert intent("help me stop this") is Intent.NONE


def test_the_help_answer_names_the_shop_its_contact_and_how_to_opt_out() -> None:
    answer = help_reply(
        "Demo Shop", support_email="help@demo.example", support_phone="+1 415 555 0100"
    )
    assert answer == (
        "Demo Shop: reminders about your basket. Help: help@demo.example or +1 415 555 0100. "
        "Reply STOP to opt out. Msg&data rates may apply."
    )
    assert sms.analyse(answer).segments == 1


def test_the_help_answer_without_contact_or_in_danish() -> None:
    assert help_reply("Demo Shop", opt_out=None) == (
        "Demo Shop: reminders about your basket. Msg&data rates may apply."
    )
    danish = help_reply(
        "Demo Shop", support_phone="70 12 34 56", opt_out="Afmeld: svar STOP", language="da-DK"
    )
    assert danish == "Demo Shop: påmindelser om din kurv. Hjælp: 70 12 34 56. Afmeld: svar STOP"
