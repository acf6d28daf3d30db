"""PyYAML's parser errors in the words of a person editing a config file, with the right line.

PyYAML says where it noticed a problem (`problem_mark`), which is often a line or more after the
mistake: an unclosed quote is noticed at the end of the file. Where the mistake is where the
construct started (`context_mark`), that line is the one given.
"""

from __future__ import annotations

import re

import yaml  # type: ignore[import-untyped]

_CANNOT_START = re.compile(r"found character '(.+)' that cannot start any token")
_FLOW_END = re.compile(r"expected ',' or '([\]}])'")
_UNDEFINED_ALIAS = re.compile(r"found undefined alias '(.+)'")


def plain_words(error: yaml.MarkedYAMLError) -> tuple[int, str]:
    """The 1-based line of the mistake and a sentence saying what it is and how to fix it."""
    problem = str(error.problem or error.context or "unreadable")
    context = str(error.context or "")
    noticed = _line(error.problem_mark) or _line(error.context_mark) or 1
    started = _line(error.context_mark) or noticed
    if match := _CANNOT_START.search(problem):
        if match[1] == "\\t":
            return noticed, "a tab indents this line; YAML indents with spaces only"
        return noticed, f"a value cannot start with {match[1]!r}: put the value in quotes"
    if "quoted scalar" in context:
        if "end of stream" in problem:
            return started, "this quote is never closed"
        return started, f"in the quoted value that starts here: {problem}"
    if "mapping values are not allowed" in problem:
        return noticed, (
            "a 'key: value' where none can start: line this key up with its neighbours, "
            "or put a value that contains ': ' in quotes"
        )
    if "could not find expected ':'" in problem:
        return started, "a line with no ':' where 'key: value' was expected"
    if match := _FLOW_END.search(problem):
        opening = "[" if match[1] == "]" else "{"
        return started, (
            f"the {opening!r} opened here is never closed with {match[1]!r} "
            "(or its items are not separated by ',')"
        )
    if problem.startswith("expected <block end>"):
        if problem.endswith("'-'"):
            return noticed, "a list item ('- ') where a key was expected: check the indentation"
        if problem.endswith("'<scalar>'"):
            return noticed, "more text after a value: put the whole value in quotes"
        return noticed, "the indentation does not match the lines above (check the spaces)"
    if match := _UNDEFINED_ALIAS.search(problem):
        return noticed, (
            f"'*{match[1]}' refers to no anchor '&{match[1]}' above it "
            "(put the value in quotes if the '*' is meant as text)"
        )
    if problem.startswith("expected a comment or a line break"):
        return noticed, "text after a closed quote: put the whole value in quotes"
    return noticed, problem


def _line(mark: yaml.Mark | None) -> int | None:
    return int(mark.line) + 1 if mark is not None else None
