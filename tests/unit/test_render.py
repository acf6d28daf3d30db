"""Templates render with the cart's facts; the built-in SMS fits one GSM-7 segment."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError

from cartback.domain import sms
from cartback.domain.events import Channel
from cartback.engine.compose import render

CONTEXT = {
    "first_name": "Astrid",
    "store_name": "Nordic Knitwear",
    "link": "https://cb.example/r/AbCdEfGhIjKl",
}


def test_a_template_gets_the_cart_facts() -> None:
    out = render(Channel.SMS, "Hi {{ first_name }} from {{ store_name }}: {{ link }}", CONTEXT)
    assert out.text == "Hi Astrid from Nordic Knitwear: https://cb.example/r/AbCdEfGhIjKl"


def test_the_default_sms_fits_one_gsm7_segment() -> None:
    out = render(Channel.SMS, None, CONTEXT)
    info = sms.analyse(out.text)
    assert info.encoding == sms.Encoding.GSM7 and info.segments == 1
    assert "Nordic Knitwear" in out.text and CONTEXT["link"] in out.text


def test_a_missing_first_name_leaves_no_stray_space() -> None:
    out = render(Channel.SMS, None, {**CONTEXT, "first_name": ""})
    assert out.text.startswith("Hi, your basket")


def test_email_has_a_subject() -> None:
    out = render(Channel.EMAIL, None, CONTEXT)
    assert out.subject == "Your basket at Nordic Knitwear is waiting"


def test_templates_run_in_a_sandbox() -> None:
    with pytest.raises(SecurityError):
        render(Channel.SMS, "{{ link.__class__.__mro__[1].__subclasses__() }}", CONTEXT)
