"""Reading a config file: YAML with lines, `${VAR}` substitution, validation, clear errors."""

from __future__ import annotations

import difflib
import os
import typing
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from cartback.config.base import ConfigError, Problem, _KeyedError
from cartback.config.channels import PROVIDERS, provider_model
from cartback.config.settings import DATABASE_URL_ENV, Settings
from cartback.config.source import (
    KeyPath,
    UnsetVariable,
    YamlError,
    format_key,
    line_of,
    read_yaml,
    substitute_env,
)


def load_config(
    path: str | Path,
    environ: Mapping[str, str] | None = None,
    *,
    unset: UnsetVariable | None = None,
) -> Settings:
    """Read, substitute and validate a config file; raise `ConfigError` on any problem.

    `unset(key_path, name)` may give a stand-in for a `${NAME}` that is not set (None: error).
    """
    environ = os.environ if environ is None else environ
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([Problem(file, 1, "", f"cannot read the config file: {error}")]) from None
    try:
        data, lines = read_yaml(text)
        if not isinstance(data, dict):
            found = "nothing" if data is None else f"a {type(data).__name__}"
            raise YamlError(lines[()], f"expected a mapping of keys, found {found}")
        data = substitute_env(data, environ, lines, unset=unset)
    except YamlError as error:
        raise ConfigError(
            [Problem(file, error.line, format_key(error.path), error.message)]
        ) from None
    override = environ.get(DATABASE_URL_ENV)
    if override:
        data["database_url"] = override
    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        problems = [_problem(e, lines, file) for e in error.errors()]
        if override:
            note = f" (from {DATABASE_URL_ENV})"
            problems = [
                p._replace(message=p.message + note * (p.key == "database_url")) for p in problems
            ]
        raise ConfigError(sorted(problems, key=lambda p: p.line)) from None


def _problem(error: Any, lines: Mapping[KeyPath, int], file: str) -> Problem:
    loc, provider = _untagged(tuple(error["loc"]))
    exception = error.get("ctx", {}).get("error")
    if isinstance(exception, _KeyedError):
        loc += exception.at
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        loc += ("provider",)
        line, message = line_of(loc, lines), _unknown_provider(loc, error)
    elif error["type"] == "missing" and provider is not None:
        line, message = line_of(loc[:-1], lines), f"required for the {provider} provider"
    elif error["type"] == "missing":
        line, message = line_of(loc[:-1], lines), "required key is missing"
    elif error["type"] == "extra_forbidden":
        line, message = line_of(loc, lines), _unknown_key(loc, provider)
    else:
        line, message = line_of(loc, lines), _describe(error, exception, loc)
    return Problem(file, line, format_key(loc), message)


def _untagged(loc: KeyPath) -> tuple[KeyPath, str | None]:
    """Pydantic puts a provider's tag in the path (`channels.sms.inmobile.api_key`); the file
    has no such key. Returns the path without it, and the provider it named."""
    if len(loc) > 2 and loc[0] == "channels" and loc[2] in PROVIDERS.get(str(loc[1]), ()):
        return (*loc[:2], *loc[3:]), str(loc[2])
    return loc, None


def _unknown_provider(loc: KeyPath, error: Any) -> str:
    known = ", ".join(PROVIDERS.get(str(loc[-2]), ()))
    tag = error.get("ctx", {}).get("tag")
    if error["type"] == "union_tag_invalid" and tag is not None:
        return f"{tag!r} is not a provider (write one of: {known})"
    return f"required key is missing (write one of: {known})"


def _describe(error: Any, exception: object, loc: KeyPath) -> str:
    if isinstance(exception, Exception):
        return str(exception)
    message = str(error["msg"])
    value = error.get("input")
    hidden = any(word in str(loc[-1:]) for word in ("secret", "token", "password", "key"))
    if not hidden and (value is None or isinstance(value, str | int)):
        message += f" (got {value!r})"
    elif not hidden and isinstance(value, Decimal):
        message += f" (got {value})"
    return message


def _unknown_key(loc: KeyPath, provider: str | None) -> str:
    message = "unknown key"
    # Under a provider's key, the keys that provider's model knows.
    tagged = provider_model(str(loc[1]), provider) if provider is not None else None
    model = tagged or _model_at(loc[:-1])
    if model is not None:
        known = [field.alias or name for name, field in model.model_fields.items()]
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        message += f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
    return message


def _model_at(loc: KeyPath) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Settings
    for part in loc:
        if isinstance(part, str):
            field = model.model_fields.get(part) if model is not None else None
            model = _model_in(field.annotation) if field is not None else None
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if typing.get_origin(annotation) is None and isinstance(annotation, type):
        return annotation if issubclass(annotation, BaseModel) else None
    return next(filter(None, map(_model_in, typing.get_args(annotation))), None)
