"""The flows' texts looked at before anything is sent: a text that does not compile stops the
config at its key and line; one that compiles but goes wrong quietly is a warning."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from cartback.cli import main
from cartback.config import ConfigError, Settings, load_config
from cartback.config.template_check import SHORT_NAMES
from cartback.engine.compose import _context
from cartback.engine.sender import _discount_words
from cartback.startup import text_warnings
from cartback.testing import InMemoryStore
from tests.contract.records import T0, contents
from tests.unit.test_config import MINIMAL

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SHORT = "currency, discount, discount_code, first_name, items, last_name, link, store_name, total"
EMAIL = (
    "currency, discount, discount_code, first_name, items, lang, last_name, link, store_name, "
    "total, unsubscribe_url, words"
)
NO_LINK = "the SMS has no {{ link }}: no way back to the basket"


def unknown(name: str, known: str) -> str:
    return f"{{{{ {name} }}}} is no template variable and comes out empty (there are {known})"


# A valid config's head (test_config's), on a database of the test's own; the steps follow.
HEAD = "database_url: sqlite:///{folder}/cartback.db\npublic_url: https://cb.example.com\n" + (
    MINIMAL.removesuffix("      - send: sms\n")
)


def _write(tmp_path: Path, steps: str) -> Path:
    path = tmp_path / "cartback.yaml"
    path.write_text(HEAD.format(folder=tmp_path) + steps, encoding="utf-8")
    return path


def _load(tmp_path: Path, steps: str) -> Settings:
    return load_config(_write(tmp_path, steps), environ={})


def _problems(tmp_path: Path, steps: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, steps)
    return [(p.line, p.key, p.message) for p in caught.value.problems]


def test_a_text_that_does_not_compile_is_named_by_its_key_and_line(tmp_path: Path) -> None:
    [(line, key, message)] = _problems(
        tmp_path,
        """\
      - send: sms
        template: "Hi {{ first_name, your basket: {{ link }}"
""",
    )
    assert (line, key) == (16, "flows[0].steps[0].template")
    assert message.startswith("the text does not compile: expected token 'end of print")


@pytest.mark.parametrize(
    ("steps", "line", "key"),
    [
        (
            """\
      - send: sms
        template: {da: "Hej {{ link }}", en: "Hi {% if %}{{ link }}"}
""",
            16,
            "flows[0].steps[0].template.en",
        ),
        (
            """\
      - send: sms
        variants:
          - {name: plain, template: "Your basket: {{ link }}"}
          - {name: broken, template: "Your basket: {{ link }"}
""",
            18,
            "flows[0].steps[0].variants[1].template",
        ),
        (
            """\
      - send: email
        subject: "Your basket at {{ store_name }"
""",
            16,
            "flows[0].steps[0].subject",
        ),
        (
            """\
      - send: email
        html_template: |
          <p>Hi {{ first_name }}</p>
          <a href="{{ link }}">{% for item in items %}{{ item.title }}</a>
""",
            16,
            "flows[0].steps[0].html_template",
        ),
    ],
)
def test_every_text_of_a_step_is_compiled(tmp_path: Path, steps: str, line: int, key: str) -> None:
    [(found_line, found_key, message)] = _problems(tmp_path, steps)
    assert (found_line, found_key) == (line, key)
    assert message.startswith("the text does not compile:")


def test_a_text_over_several_lines_says_on_which_its_mistake_is(tmp_path: Path) -> None:
    [(_, _, message)] = _problems(
        tmp_path,
        """\
      - send: email
        html_template: |
          <p>Hi {{ first_name }}</p>
          <p>{{ link }</p>
""",
    )
    assert message.endswith("(line 2 of the text)")


def test_quiet_mistakes_are_warnings_naming_the_text(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        """\
      - send: sms
        template: "Hi {{ first_name }}, your basket: {link}"
      - wait: 1d
      - send: sms
        template: {da: "Hej {{ frist_name }}: {{ link }}", en: "Hi {{ first_name }}!"}
      - send: rcs
        fallback: sms
        templates: {}
        template: "Your basket: {{ link }}"
      - send: email
        subject: "Your basket at {{ store }}"
""",
    )
    assert text_warnings(settings) == [
        "flows[0].steps[0].template: {link} is sent as written; a variable is {{ link }}",
        f"flows[0].steps[2].template.da: {unknown('frist_name', SHORT)}",
        f"flows[0].steps[2].template.en: {NO_LINK}",
        f"flows[0].steps[4].subject: {unknown('store', EMAIL)}",
    ]


def test_wordings_per_segment_and_variants_are_looked_at_too(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
      - send: sms
        template: "Your basket: {{ link }}"
        templates: {big: "A big basket is waiting"}
      - send: sms
        variants:
          - {name: plain, template: "Your basket: {{ link }}"}
          - {name: ten-off, template: "{{ discount }} off: {{ code }} {{ link }}"}
segments:
  big:
    basket_value: {gte: 1000}
""",
    )
    settings = load_config(path, environ={})
    assert text_warnings(settings) == [
        f"flows[0].steps[0].templates.big: {NO_LINK}",
        f"flows[0].steps[1].variants[1].template: {unknown('code', SHORT)}",
    ]


def test_a_good_flow_and_the_examples_have_no_warnings(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        """\
      - send: sms
        template: "Hi {{ first_name }}, {{ discount }} off with {{ discount_code }}: {{ link }}"
      - send: email
        subject: "{{ first_name }}, your basket at {{ store_name }}"
        html_template: |
          {% for item in items %}{{ item.title }}{% endfor %}
          <a href="{{ link }}">{{ words.button }}</a> <a href="{{ unsubscribe_url }}">x</a>
""",
    )
    assert text_warnings(settings) == []
    for example in sorted(EXAMPLES.glob("*.yaml")):
        environ = {"CARTBACK_API_TOKEN": "t", "SHOPIFY_SECRET": "s"}
        assert text_warnings(load_config(example, environ=environ)) == [], example.name


def test_check_stops_at_a_broken_text_and_prints_the_warnings(tmp_path: Path) -> None:
    broken = _write(tmp_path, '      - send: sms\n        template: "{{ link"\n')
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        assert main(["check", "--config", str(broken)]) == 2
    assert "cartback.yaml:16: flows[0].steps[0].template: the text does not compile" in (
        out.getvalue() + err.getvalue()
    )
    quiet = _write(tmp_path, '      - send: sms\n        template: "Your basket: {link}"\n')
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        assert main(["check", "--config", str(quiet)]) == 0
    assert (
        "warning: flows[0].steps[0].template: {link} is sent as written; a variable is "
        "{{ link }}" in out.getvalue()
    )


def test_the_names_checked_are_those_a_short_text_is_rendered_with() -> None:
    """The warning's list is written beside the renderer's context: this ties the two."""
    store = InMemoryStore()
    with store.transaction() as tx:
        cart, _ = tx.carts.upsert(contents(), T0)
    rendered_with = set(_context(cart, "Acme", "https://cb.example/r/c0de"))
    assert rendered_with | set(_discount_words("SAVE10", "10%")) == SHORT_NAMES
