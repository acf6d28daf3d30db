"""Read YAML into plain data while remembering the line every key and item came from.

Scalars are read the way a person writing a config file means them, closer to YAML 1.2 than to
PyYAML's YAML 1.1 defaults:

- a float keeps its written digits as a `Decimal` (`0.30` stays `Decimal("0.30")`, never 0.3);
- only `true`/`false` are booleans, so `NO` (Norway) or `on` stay strings;
- `21:00` stays a string instead of becoming the base-60 integer 1260, and an integer that
  isn't plain decimal (`0045`, `+4512345678`) stays as written instead of turning octal or
  losing its `+`;
- dates stay strings.

`substitute_env` then fills `${VAR}` and `${VAR:-default}` into string values (`$${` writes a
literal `${`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml  # type: ignore[import-untyped]

from cartback.config.yaml_words import plain_words

KeyPath = tuple[str | int, ...]
UnsetVariable = Callable[[KeyPath, str], str | None]  # (key path, variable) -> stand-in or None

_TAG = "tag:yaml.org,2002:"
_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)(\}?)")
_DECIMAL_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


class YamlError(Exception):
    """A problem with the YAML text itself, at a 1-based line."""

    def __init__(self, line: int, message: str, path: KeyPath = ()) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.path = path


def read_yaml(text: str) -> tuple[Any, dict[KeyPath, int]]:
    """Return the document as dicts, lists and scalars, and the line of every key path.

    A key's line is where the key is written; an item's line is where the item starts.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        line, problem = plain_words(error)
        raise YamlError(line, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as error:
        raise YamlError(1, f"invalid YAML: {error}") from None
    lines: dict[KeyPath, int] = {(): 1 if root is None else _line(root)}
    if root is None:
        return None, lines
    return _Reader(lines).value(root, ()), lines


def _line(node: Any) -> int:
    return int(node.start_mark.line) + 1


class _Reader:
    def __init__(self, lines: dict[KeyPath, int]) -> None:
        self.lines = lines
        self.constructor = yaml.constructor.SafeConstructor()
        self.open_nodes: set[int] = set()

    def value(self, node: Any, path: KeyPath) -> Any:
        if id(node) in self.open_nodes:
            raise YamlError(_line(node), "an alias refers to itself", path)
        self.open_nodes.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode) and node.tag == _TAG + "map":
                return self.mapping(node, path)
            if isinstance(node, yaml.SequenceNode) and node.tag == _TAG + "seq":
                return [self.item(child, (*path, i)) for i, child in enumerate(node.value)]
            if isinstance(node, yaml.ScalarNode):
                return self.scalar(node, path)
            raise YamlError(_line(node), f"unsupported YAML tag {node.tag}", path)
        finally:
            self.open_nodes.discard(id(node))

    def item(self, node: Any, path: KeyPath) -> Any:
        self.lines[path] = _line(node)
        return self.value(node, path)

    def mapping(self, node: Any, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = _line(key_node)
            if key_node.tag == _TAG + "merge":
                raise YamlError(line, "merge keys (<<) are not supported; write the keys out", path)
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError(line, "a key must be a plain name, not a list or mapping", path)
            key = str(key_node.value)
            if key in result:
                first = self.lines[(*path, key)]
                raise YamlError(
                    line, f"duplicate key (first written on line {first})", (*path, key)
                )
            self.lines[(*path, key)] = line
            result[key] = self.value(value_node, (*path, key))
        return result

    def scalar(self, node: Any, path: KeyPath) -> Any:
        text: str = node.value
        kind = node.tag.removeprefix(_TAG)
        if kind == "null":
            return None
        if kind == "bool":
            return text.lower() == "true" if text.lower() in ("true", "false") else text
        if kind == "int":  # 0045, +45…, 0x1F: keep the digits as written
            return int(text) if _DECIMAL_INT.fullmatch(text) else text
        if kind == "float" and ":" in text:
            return text
        if kind == "float":
            try:
                return Decimal(text.replace("_", ""))
            except InvalidOperation:
                return Decimal(self.constructor.construct_yaml_float(node))
        if kind in ("str", "timestamp"):
            return text
        raise YamlError(_line(node), f"unsupported YAML tag {node.tag}", path)


def format_key(path: Sequence[str | int]) -> str:
    """`("flows", 0, "abandon_after")` → `flows[0].abandon_after`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def line_of(path: Sequence[Any], lines: Mapping[KeyPath, int]) -> int:
    """The line of `path`, or of its nearest ancestor that has one."""
    for end in range(len(path), -1, -1):
        line = lines.get(tuple(path[:end]))
        if line is not None:
            return line
    return 1


def substitute_env(
    value: Any,
    environ: Mapping[str, str],
    lines: Mapping[KeyPath, int],
    path: KeyPath = (),
    *,
    unset: UnsetVariable | None = None,
) -> Any:
    """Fill `${VAR}` / `${VAR:-default}` in every string value; `:-` also covers an empty VAR.

    A variable that is not set is an error, unless `unset` gives a stand-in for it at `path`.
    """
    if isinstance(value, dict):
        return {
            k: substitute_env(v, environ, lines, (*path, k), unset=unset) for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            substitute_env(v, environ, lines, (*path, i), unset=unset) for i, v in enumerate(value)
        ]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match[0] == "$${":
            return "${"
        name = _NAME.fullmatch(match[1]) if match[2] else None
        if name is None:
            message = f"{match[0]!r} is not a variable (write ${{NAME}} or ${{NAME:-default}})"
        elif environ.get(name[1]) or (name[1] in environ and name[2] is None):
            return environ[name[1]]
        elif name[2] is not None:
            return name[2]
        elif unset is not None and (stand_in := unset(path, name[1])) is not None:
            return stand_in
        else:
            message = f"environment variable {name[1]} is not set"
        raise YamlError(line_of(path, lines), message, path)

    return _REFERENCE.sub(replace, value)
