"""A broken config file is told in plain words, at the line where the mistake is."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartback.config import ConfigError, load_config

CASES = [
    ("tab", "api_token: t\nstores:\n\t- id: a\n", 3, "a tab indents this line"),
    ("unclosed quote", 'api_token: "t\nstores: []\n', 1, "this quote is never closed"),
    ("single quote", "name: x\napi_token: 't\n", 2, "this quote is never closed"),
    ("key under a value", "api_token: t\n  stores: a\n", 2, "a 'key: value' where none can"),
    ("value with ': '", "api_token: a: b\n", 1, "put a value that contains ': ' in quotes"),
    ("misaligned key", "stores:\n  - id: a\n   name: b\n", 3, "indentation does not match"),
    ("unclosed list", "api_token: t\nstores: [a, b\nflows: []\n", 2, "'[' opened here is never"),
    ("unclosed mapping", "policy: {cooldown: 1h\n", 1, "'{' opened here is never closed"),
    ("no colon", "api_token: t\nstores\nflows: []\n", 2, "a line with no ':'"),
    ("list among keys", "api_token: t\n- item\n", 2, "a list item ('- ') where a key"),
    ("at sign", "api_token: @t\n", 1, "a value cannot start with '@'"),
    ("undefined alias", "api_token: *t\n", 1, "'*t' refers to no anchor '&t'"),
    ("text after quote", 'api_token: "t" u\n', 1, "more text after a value"),
]


@pytest.mark.parametrize(
    ("text", "line", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_yaml_syntax_errors_in_plain_words(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = tmp_path / "cartback.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path, {})
    message = str(raised.value)
    assert message.startswith(f"{path}:{line}: invalid YAML: "), message
    assert words in message, message
    assert "<block" not in message and "stream end" not in message  # the parser's jargon
