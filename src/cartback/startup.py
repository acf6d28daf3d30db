"""What can stop cartback from starting, found before anything runs.

Each mistake an operator can fix (the database cannot be reached, the schema is behind, the
port is taken, a gateway setting that cannot work, ...) is an `OperatorError` with one line that
names the thing and says what to do; the CLI prints it without a traceback and exits with 2.
Anything else is a bug and keeps its traceback. `serve`, `worker`, `migrate`, `check` and the
local commands all start through these functions, so they fail the same way.

No message here ever holds a password: database URLs go through `mask_url`.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from alembic.util import CommandError
from pydantic import BaseModel, SecretStr
from sqlalchemy import Engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from cartback.config import Settings
from cartback.config.channels import ChannelsConfig, TwilioSms
from cartback.config.source import KeyPath, format_key
from cartback.store import migrate
from cartback.store.db import connect, normalise_url

SUPPORTED = "sqlite:///FILE or postgresql://USER@HOST/DATABASE"
# Config keys whose `${VAR}` only `serve`, `worker` and `tokens` use: elsewhere a stand-in will do.
SECRET_KEYS = frozenset(
    {
        "api_token",
        "webhook_secret",
        "access_token",
        "api_key",
        "auth_token",
        "password",
        "signing_secret",
    }
)
_NOT_SET = re.compile(r"\(not set: \$\{(\w+)\}\)")


class OperatorError(Exception):
    """A mistake in the setup that the operator can fix; printed as one line, exit code 2."""


# --- secrets that local commands do not need ---------------------------------------------------


def secret_stand_in(path: KeyPath, name: str) -> str | None:
    """For `load_config(unset=...)`: an unset `${NAME}` of a secret key becomes a marker."""
    return f"(not set: ${{{name}}})" if path and path[-1] in SECRET_KEYS else None


def is_not_set(value: str) -> bool:
    return _NOT_SET.fullmatch(value) is not None


def unset_secrets(settings: Settings) -> list[tuple[str, str]]:
    """(key, variable) of each secret that holds the marker of `secret_stand_in`."""
    found = []
    for path, value in _strings(settings, ()):
        match = _NOT_SET.fullmatch(value)
        if match is not None:
            found.append((format_key(path), match[1]))
    return found


def _strings(value: object, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _strings(getattr(value, name), (*path, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))
    elif isinstance(value, SecretStr):
        yield path, value.get_secret_value()
    elif isinstance(value, str):
        yield path, value


# --- the database -------------------------------------------------------------------------------


def mask_url(url: str) -> str:
    """The URL with its password (in the user part or a `password=` parameter) as `***`."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    rest, question, query = rest.partition("?")
    user_part, at, host_part = rest.rpartition("@")
    if at and ":" in user_part:
        rest = f"{user_part.split(':', 1)[0]}:***@{host_part}"
    query = re.sub(r"(password=)[^&]*", r"\1***", query, flags=re.IGNORECASE)
    return f"{scheme}://{rest}{question}{query}"


def database_url(url: str) -> URL:
    """The parsed URL of a database cartback can use, or an `OperatorError` saying why not."""
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError:
        raise OperatorError(
            f"database_url {mask_url(url)} is not a database URL (write {SUPPORTED})"
        ) from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend not in ("sqlite", "postgresql"):
        raise OperatorError(
            f"database_url {mask_url(url)}: {backend} is not supported (use {SUPPORTED})"
        )
    if backend == "postgresql" and driver != "psycopg":
        raise OperatorError(
            f"database_url {mask_url(url)}: the {driver} driver is not installed; "
            "write postgresql://... (cartback uses psycopg 3)"
        )
    return parsed


def open_database(url: str) -> Engine:
    """An engine that has answered once (an SQLite file's folder is made first)."""
    parsed = database_url(url)
    file = _sqlite_file(parsed)
    if file is not None:
        _writable_folder(file.parent, url, create=True)
    return _answering(url, parsed)


def peek_database(url: str) -> Engine | None:
    """As `open_database`, creating nothing: None for an SQLite file that does not exist yet."""
    parsed = database_url(url)
    file = _sqlite_file(parsed)
    if file is not None and not file.exists():
        _writable_folder(file.parent, url, create=False)
        return None
    return _answering(url, parsed)


def _sqlite_file(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database or "")


def _answering(url: str, parsed: URL) -> Engine:
    engine = connect(url)
    try:
        with engine.connect():
            pass
    except DBAPIError as error:
        engine.dispose()
        raise OperatorError(f"database {mask_url(url)}: {_why(error, parsed)}") from None
    return engine


def _writable_folder(folder: Path, url: str, *, create: bool) -> None:
    where = f"database {mask_url(url)}"
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise OperatorError(f"{where}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OperatorError(f"{where}: cannot write in the folder {existing}")
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OperatorError(f"{where}: cannot create the folder {folder}: {error}") from None


def _why(error: DBAPIError, url: URL) -> str:
    text = str(error.orig).removeprefix("connection failed: ")
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    if url.get_backend_name() == "sqlite":
        if "not a database" in text:
            return "the file is not an SQLite database"
        return f"cannot open the SQLite file ({text})"
    lowered = text.lower()
    if "database" in lowered and "does not exist" in lowered:
        return (
            f"the database {url.database!r} does not exist on {where} "
            f"(create it, e.g. `createdb {url.database}`, then run `cartback migrate`)"
        )
    if "role" in lowered and "does not exist" in lowered:
        return f"the database user {url.username!r} does not exist on {where}"
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return f"the server at {where} did not accept the password of user {url.username!r}"
    if "connection refused" in lowered:
        return f"nothing answers at {where} (is PostgreSQL running there?)"
    if "resolve host" in lowered or "name or service not known" in lowered:
        return f"the database host {url.host!r} cannot be found"
    if "timeout" in lowered:
        return f"no answer from {where} in time"
    return text.splitlines()[0] if text else type(error.orig).__name__


def ensure_schema(engine: Engine, *, upgrade: bool, config_file: str) -> str | None:
    """Bring the schema up to date (SQLite always, PostgreSQL when `upgrade`) or check it is;
    the revision the database is at."""
    url = mask_url(engine.url.render_as_string(hide_password=True))
    try:
        if upgrade or engine.dialect.name == "sqlite":
            migrate.upgrade(engine)
        return schema_level(engine, config_file)
    except CommandError:
        return schema_level(engine, config_file)  # names the revision this code does not know
    except DBAPIError as error:
        reason = str(error.orig).splitlines()[0]
        raise OperatorError(f"database {url}: cannot update the schema ({reason})") from None


def schema_level(engine: Engine, config_file: str) -> str | None:
    """The database's revision; an `OperatorError` unless it is the one this code needs."""
    url = mask_url(engine.url.render_as_string(hide_password=True))
    current, head = migrate.current_revision(engine), migrate.head_revision(engine)
    if current == head:
        return current
    fix = f"run `cartback migrate --config {config_file}`"
    if current is None:
        raise OperatorError(f"database {url} has no cartback tables yet: {fix}")
    if current not in migrate.known_revisions(engine):
        raise OperatorError(
            f"database {url} is at revision {current}, which this cartback does not know "
            "(it was migrated by a newer version: upgrade cartback)"
        )
    raise OperatorError(
        f"database {url} is at revision {current}, this cartback needs {head}: {fix}"
    )


# --- the port -----------------------------------------------------------------------------------


def listen_socket(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port`, so that a port in use is known before anything runs."""
    try:
        family, kind, proto, *_ = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror:
        raise OperatorError(f"--host {host}: not an address of this machine") from None
    # The protocol named, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say
    # they are TCP, and with Nagle on every answer waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise OperatorError(
                f"port {port} on {host} is already in use "
                "(another cartback? choose a port with --port)"
            ) from None
        if error.errno == errno.EACCES:
            raise OperatorError(
                f"not allowed to listen on port {port} (below 1024 needs root)"
            ) from None
        raise OperatorError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    return sock


# --- channels and links -------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    level: Literal["error", "warning"]
    text: str


def channel_findings(settings: Settings, *, strict_dns: bool) -> list[Finding]:
    """Gateway settings that cannot work, the global channels' and each store's own. An SMTP
    host that does not resolve is an error for `check` (`strict_dns`) and a warning at start,
    where DNS may come back and email retries."""
    found = _findings("channels", settings.channels, strict_dns)
    for index, store in enumerate(settings.stores):
        if store.channels is not None:
            own = settings.channels_of(store.id)
            found += _findings(f"stores[{index}].channels", own, strict_dns)
    return found


def _findings(prefix: str, channels: ChannelsConfig, strict_dns: bool) -> list[Finding]:
    found: list[Finding] = []
    sms, email = channels.sms, channels.email
    for key, config in ((f"{prefix}.sms", sms), (f"{prefix}.email", email)):
        if config is not None and config.provider == "outbox":
            problem = _folder_problem(Path(config.path).parent)
            if problem:
                found.append(Finding("error", f"{key}.path {config.path}: {problem}"))
    if isinstance(sms, TwilioSms) and not _twilio_can_send(sms):
        found.append(
            Finding(
                "error",
                f"{prefix}.sms.sender {sms.sender!r}: twilio sends from a number in "
                "+E.164 form (e.g. +4512345678) or through messaging_service_sid",
            )
        )
    if email is not None and email.provider == "smtp" and email.host:
        found.extend(_smtp_findings(email.host, email.port, email.security, strict_dns))
    return found


def _twilio_can_send(sms: TwilioSms) -> bool:
    return sms.sender.startswith("+") or bool(sms.messaging_service_sid)


def _folder_problem(folder: Path) -> str | None:
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot write in the folder {existing}"
    return None


def _smtp_findings(host: str, port: int, security: str, strict_dns: bool) -> list[Finding]:
    found = []
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        level: Literal["error", "warning"] = "error" if strict_dns else "warning"
        found.append(Finding(level, f"channels.email.host {host!r} cannot be found (DNS)"))
    if port == 465 and security != "tls":
        found.append(
            Finding("warning", "channels.email: port 465 speaks TLS at once; write security: tls")
        )
    if port == 587 and security == "tls":
        found.append(
            Finding("warning", "channels.email: port 587 starts plain; write security: starttls")
        )
    return found


def text_warnings(settings: Settings) -> list[str]:
    """What is wrong with the flows' texts that compile (`config.template_check`)."""
    return [
        warning
        for index, flow in enumerate(settings.flows)
        for number, step in enumerate(flow.steps)
        for warning in step.text_warnings(f"flows[{index}].steps[{number}]")
    ]


def link_warnings(settings: Settings, listen_port: int | None = None) -> list[str]:
    """What is wrong with `public_url` as the base of links that customers open."""
    url = urlsplit(settings.public_url)
    host = url.hostname or ""
    warnings = []
    real = [name for name, provider in _providers(settings) if provider != "outbox"]
    if _is_local(host):
        if real:
            warnings.append(
                f"public_url {settings.public_url} is this machine only: links sent through "
                f"{', '.join(real)} will not open on customers' devices"
            )
        port = url.port or (443 if url.scheme == "https" else 80)
        if listen_port is not None and port != listen_port:
            warnings.append(
                f"public_url {settings.public_url} names port {port}, "
                f"but cartback listens on {listen_port}: its links will not reach it"
            )
    elif url.scheme != "https":
        warnings.append(
            f"public_url {settings.public_url} is not https: links and unsubscribe pages "
            "travel unencrypted"
        )
    return warnings


def _providers(settings: Settings) -> list[tuple[str, str]]:
    channels = settings.channels
    pairs = [("sms", channels.sms.provider)] if channels.sms else []
    return pairs + ([("email", channels.email.provider)] if channels.email else [])


def _is_local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def known_store(settings: Settings, store_id: str | None) -> str | None:
    """`--store`: None (every store), or the id of a configured store."""
    if store_id is not None and settings.store(store_id) is None:
        known = ", ".join(store.id for store in settings.stores)
        raise OperatorError(f"--store {store_id}: no such store in the config (stores: {known})")
    return store_id
