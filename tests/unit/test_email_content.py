"""The recovery email: the basket in HTML and text, escaped where it must be, from any template."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from jinja2.exceptions import SecurityError

from cartback.channels.base import LineItemView
from cartback.engine.email_content import RenderedEmail, render_email

LINK = "https://cb.example/r/AbCdEfGhIjKl"
UNSUBSCRIBE = "https://cb.example/u/c2hvcAB0b2tlbg"
SOCKS = LineItemView("Wool socks", 2, Decimal("12.5"), "DKK", "https://img.example/socks.jpg")
HAT = LineItemView("Bobble hat", 1, Decimal("199"), "DKK")


def email(**overrides: Any) -> RenderedEmail:
    arguments: dict[str, Any] = {
        "store_name": "Nordic Knitwear",
        "first_name": "Astrid",
        "link": LINK,
        "items": [SOCKS, HAT],
        "total": Decimal("224"),
        "currency": "DKK",
        "unsubscribe_url": UNSUBSCRIBE,
        "text_template": None,
        "html_template": None,
        "subject_template": None,
    }
    arguments.update(overrides)
    return render_email(**arguments)


def test_the_default_subject_names_the_store() -> None:
    assert email().subject == "Your basket at Nordic Knitwear is waiting"


def test_the_html_shows_the_basket_the_button_and_the_unsubscribe_link() -> None:
    html = email().html

    assert "Hi Astrid," in html
    for shown in ("Wool socks", "Quantity: 2", "12.50 DKK", "Bobble hat", "199.00 DKK"):
        assert shown in html
    assert "224.00 DKK" in html
    assert 'src="https://img.example/socks.jpg" alt="Wool socks" width="64"' in html
    assert html.count(f'href="{LINK}"') == 1
    assert f'href="{UNSUBSCRIBE}"' in html
    assert "Nordic Knitwear" in html


def test_an_item_without_an_image_gets_no_img_tag() -> None:
    html = email(items=[HAT]).html

    assert "Bobble hat" in html
    assert "<img" not in html


def test_an_image_url_that_is_not_a_web_url_is_left_out() -> None:
    sneaky = LineItemView("Mittens", 1, Decimal("80"), "DKK", "javascript:alert(1)")

    assert "javascript:" not in email(items=[sneaky]).html


def test_the_text_mirrors_the_html() -> None:
    text = email().text

    assert text.startswith("Hi Astrid,\n")
    assert "- 2 x Wool socks: 12.50 DKK" in text
    assert "- 1 x Bobble hat: 199.00 DKK" in text
    assert "Total: 224.00 DKK" in text
    assert LINK in text and UNSUBSCRIBE in text
    assert "<" not in text


def test_a_missing_first_name_leaves_no_gap() -> None:
    rendered = email(first_name="  ")

    assert rendered.text.startswith("Hi,\n")
    assert "Hi,<br>" in rendered.html


def test_a_product_title_cannot_inject_markup() -> None:
    evil = LineItemView('<script>alert("x")</script>', 1, Decimal("1"), "DKK", 'x"><b')
    rendered = email(items=[evil], store_name="Tom & Jerry's <Shop>")

    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in rendered.html
    assert "Tom &amp; Jerry&#39;s &lt;Shop&gt;" in rendered.html
    assert '<script>alert("x")</script>' in rendered.text  # plain text is not HTML
    assert rendered.subject == "Your basket at Tom & Jerry's <Shop> is waiting"


def test_a_user_text_template_gets_the_same_variables() -> None:
    template = (
        "Hej {{ first_name }}! {% for i in items %}{{ i.quantity }}x{{ i.title }} "
        "({{ i.price }} {{ i.currency }}{% if i.image_url %}, {{ i.image_url }}{% endif %}) "
        "{% endfor %}= {{ total }} {{ currency }}. "
        "{{ link }} / {{ store_name }} / {{ unsubscribe_url }}"
    )
    text = email(text_template=template).text

    assert text == (
        "Hej Astrid! 2xWool socks (12.50 DKK, https://img.example/socks.jpg) "
        "1xBobble hat (199.00 DKK) = 224.00 DKK. "
        f"{LINK} / Nordic Knitwear / {UNSUBSCRIBE}"
    )


def test_user_html_and_subject_templates() -> None:
    html = "<h1>{{ first_name }}</h1>{% for i in items %}<b>{{ i.title }}</b>{% endfor %}"
    rendered = email(
        html_template=html,
        subject_template="{{ first_name }}, your\n basket at {{ store_name }}",
        items=[LineItemView("<Socks>", 1, Decimal("1"), "DKK")],
    )

    assert rendered.html == "<h1>Astrid</h1><b>&lt;Socks&gt;</b>"
    assert rendered.subject == "Astrid, your basket at Nordic Knitwear"


def test_a_user_template_cannot_escape_the_sandbox() -> None:
    with pytest.raises(SecurityError):
        email(text_template="{{ link.__class__.__mro__[1].__subclasses__() }}")
