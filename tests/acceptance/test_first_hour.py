"""A new operator's first hour, with real `cartback` processes: a start that fails sends
nothing, setup mistakes are one line with exit code 2, the demo follows its port, a refused
webhook leaves a log line without the body, and every page works offline."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import create_engine, text

from tests.acceptance.processes import Running, free_port
from tests.acceptance.test_serve import (
    API_TOKEN,
    Server,
    checkout_payload,
    encode,
    write_config,
)
from tests.conftest import POSTGRES_ADMIN_URL

pytestmark = pytest.mark.acceptance

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "hunter2-secret"


def cartback(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cartback.cli", *args]
    return subprocess.run(
        command, capture_output=True, text=True, cwd=cwd, env=env, timeout=90, check=False
    )


def sqlite_config(tmp_path: Path, port: int) -> tuple[Path, Path]:
    config, outbox = tmp_path / "cartback.yaml", tmp_path / "outbox.jsonl"
    write_config(config, f"sqlite:///{tmp_path / 'cartback.db'}", port, outbox)
    return config, outbox


def assert_one_line_mistake(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cartback: "), done.stderr
    assert "Traceback" not in done.stderr
    assert PASSWORD not in done.stderr + done.stdout
    for word in words:
        assert word in lines[0], (word, lines[0])


# --- a failed start sends nothing -------------------------------------------------------------


def test_a_taken_port_stops_the_start_before_a_due_cart_is_sent(tmp_path: Path) -> None:
    port = free_port()
    config, outbox = sqlite_config(tmp_path, port)
    with Server.started(
        ["serve", "--no-worker"], config, tmp_path, "api", port=free_port(), outbox=outbox,
        token=API_TOKEN,
    ) as api:  # fmt: skip
        answer = api.webhook("checkouts/create", encode(checkout_payload()))
        assert answer.status_code == 200 and answer.json()["status"] == "received"
        due = datetime.now(UTC) + timedelta(seconds=2)  # abandon_after is 2s
        assert api.api("/api/carts") == [], "stored only: applying is the worker's"
    while datetime.now(UTC) <= due:
        time.sleep(0.1)

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = cartback("serve", "--config", str(config), "--port", str(port), cwd=tmp_path)
        assert_one_line_mistake(done, f"port {port}", "already in use")
    assert not outbox.exists(), "a message went out from a start that failed"

    # The cart was due: the same start on a free port sends it.
    with Server.started(
        ["serve"], config, tmp_path, "serve", port=port, outbox=outbox, token=API_TOKEN
    ) as server:
        assert len(server.wait_for("for the due SMS", server.sms_lines)) == 1


# --- setup mistakes: one line, exit code 2 ----------------------------------------------------


@pytest.fixture
def unmigrated_postgres(postgres_url: str) -> Iterator[str]:
    """An empty PostgreSQL database that nobody ran `cartback migrate` on."""
    name = f"cartback_empty_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _with_password(url: str) -> str:
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user.split(':')[0]}:{PASSWORD}@{host}"


MISTAKES = {
    "unreachable": (f"postgresql://cartback:{PASSWORD}@127.0.0.1:1/cartback", "nothing answers"),
    "unsupported scheme": (f"mysql://cartback:{PASSWORD}@127.0.0.1/cartback", "not supported"),
    "sqlite under a file": ("sqlite:///{tmp}/a-file/cartback.db", "is a file, not a folder"),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_database_mistake_is_one_line_with_exit_code_2(mistake: str, tmp_path: Path) -> None:
    url, words = MISTAKES[mistake]
    (tmp_path / "a-file").write_text("not a folder")
    config, outbox = sqlite_config(tmp_path, free_port())
    config.write_text(re.sub(r"database_url: .*", f"database_url: {url.format(tmp=tmp_path)}",
                             config.read_text()))  # fmt: skip
    done = cartback("serve", "--config", str(config), "--port", str(free_port()), cwd=tmp_path)
    assert_one_line_mistake(done, "database", words)
    assert not outbox.exists()


def test_a_missing_and_an_unmigrated_postgres_database_say_what_to_do(
    unmigrated_postgres: str, tmp_path: Path
) -> None:
    config, _outbox = sqlite_config(tmp_path, free_port())
    missing = unmigrated_postgres.rsplit("/", 1)[0] + "/cartback_no_such_database"
    cases = [
        (_with_password(missing), ["does not exist", "cartback_no_such_database"]),
        (unmigrated_postgres, ["no cartback tables", f"cartback migrate --config {config}"]),
    ]
    for url, words in cases:
        config.write_text(re.sub(r"database_url: .*", f"database_url: {url}", config.read_text()))
        for command in (["serve", "--port", str(free_port())], ["worker"], ["report"]):
            done = cartback(command[0], "--config", str(config), *command[1:], cwd=tmp_path)
            assert_one_line_mistake(done, *words)
    migrated = cartback("migrate", "--config", str(config), cwd=tmp_path)
    assert migrated.returncode == 0 and "database at revision" in migrated.stdout, migrated.stderr
    checked = cartback("check", "--config", str(config), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr


def test_check_prints_the_summary_and_exits_2_on_a_mistake(tmp_path: Path) -> None:
    config, _outbox = sqlite_config(tmp_path, 8000)
    good = cartback("check", "--config", str(config), cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert "http://127.0.0.1:8000/webhooks/shopify" in good.stdout
    assert "ok: serve would start" in good.stdout
    assert not (tmp_path / "cartback.db").exists(), "check made the database"

    (tmp_path / "codes.csv").write_text("code\nSAVE10-A\n")
    for command in (["report"], ["deliveries", "list"], ["codes", "import", "codes.csv"]):
        done = cartback(*command, "--store", "nope", "--config", str(config), cwd=tmp_path)
        assert_one_line_mistake(done, "--store nope: no such store", "(stores: acme)")

    url = f"postgresql://cartback:{PASSWORD}@127.0.0.1:1/cartback"
    config.write_text(re.sub(r"database_url: .*", f"database_url: {url}", config.read_text()))
    bad = cartback("check", "--config", str(config), cwd=tmp_path)
    assert bad.returncode == 2
    assert "nothing answers at 127.0.0.1:1" in bad.stderr and "Traceback" not in bad.stderr
    assert PASSWORD not in bad.stdout + bad.stderr
    assert "cartback:***@127.0.0.1:1" in bad.stdout  # the summary, masked


# --- the demo follows its port ----------------------------------------------------------------


def test_make_run_passes_the_port_on() -> None:
    done = subprocess.run(
        ["make", "-n", "run", "PORT=8123"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "serve --config examples/demo.yaml --demo --port 8123" in done.stdout


def test_the_demos_links_carry_the_port_it_listens_on(tmp_path: Path) -> None:
    port = free_port()
    outbox = tmp_path / "demo-data" / "outbox.jsonl"
    with Server.started(
        ["serve", "--demo"], ROOT / "examples" / "demo.yaml", tmp_path, "demo", port=port,
        outbox=outbox, deadline=60.0,
    ) as demo:  # fmt: skip
        [sms, *_] = demo.wait_for("for the demo's first SMS", demo.sms_lines)
    links = re.findall(r"https?://\S+", sms["text"])
    assert links and all(link.startswith(f"http://127.0.0.1:{port}/r/") for link in links), sms


# --- the server talks -------------------------------------------------------------------------


def test_start_up_block_and_a_refused_webhook_in_the_log(tmp_path: Path) -> None:
    port = free_port()
    config, outbox = sqlite_config(tmp_path, port)
    with Server.started(
        ["serve"], config, tmp_path, "serve", port=port, outbox=outbox, token=API_TOKEN
    ) as server:
        checkout = checkout_payload()
        refused = server.webhook("checkouts/create", encode(checkout), signature="forged")
        assert refused.status_code == 401
        unknown = server.webhook("checkouts/create", b"{}", shop_domain="other.myshopify.com")
        assert unknown.status_code == 404
        log = server.wait_for("for the access log", lambda: _lines(server, "webhook answered"))
        stderr = server.stderr()
    assert stderr.count(f"cartback {_version()}\n") == 1, stderr
    assert f"listening   http://127.0.0.1:{port}" in stderr
    assert f"acme (Shopify webhooks): http://127.0.0.1:{port}/webhooks/shopify" in stderr
    assert "alembic" not in stderr.lower() and "Running upgrade" not in stderr
    [wrong_signature] = [line for line in log if "status=401" in line]
    assert "store=acme" in wrong_signature and 'reason="wrong signature"' in wrong_signature
    [unknown_shop] = [line for line in log if "status=404" in line]
    assert 'reason="unknown shop"' in unknown_shop and "other.myshopify.com" in unknown_shop
    for personal in (checkout["email"], checkout["sms_marketing_phone"], "John"):
        assert personal not in stderr, personal


def _lines(server: Running, marker: str) -> list[str] | None:
    found = [line for line in server.stderr().splitlines() if marker in line]
    return found if len(found) >= 2 else None


def _version() -> str:
    from cartback import __version__

    return __version__


def test_verbose_shows_the_migrations(tmp_path: Path) -> None:
    config, _outbox = sqlite_config(tmp_path, 8000)
    quiet = cartback("migrate", "--config", str(config), cwd=tmp_path)
    assert quiet.returncode == 0 and "Running upgrade" not in quiet.stderr, quiet.stderr
    (tmp_path / "cartback.db").unlink()
    verbose = cartback("migrate", "--config", str(config), "--verbose", cwd=tmp_path)
    assert verbose.returncode == 0 and "Running upgrade" in verbose.stderr, verbose.stderr


# --- every page works offline -----------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, _tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def test_no_page_loads_anything_from_another_host(tmp_path: Path) -> None:
    port = free_port()
    config, outbox = sqlite_config(tmp_path, port)
    with Server.started(
        ["serve"], config, tmp_path, "serve", port=port, outbox=outbox, token=API_TOKEN
    ) as server:
        spec = server.http.get("/openapi.json").json()
        pages = ["/docs", "/redoc"] + [
            re.sub(r"\{[^}]+\}", "x", path)
            for path, operations in spec["paths"].items()
            if "get" in operations and "text/html" in json.dumps(operations["get"])
        ]
        assert "/u/x" in pages  # the unsubscribe page
        checked = 0
        for page in pages:
            answer = server.http.get(page)
            if "text/html" not in answer.headers.get("content-type", ""):
                continue
            checked += 1
            parser = _Links()
            parser.feed(answer.text)
            for url in parser.urls:
                target = urlsplit(urljoin(server.public_url + page, url))
                assert target.netloc == f"127.0.0.1:{port}", (page, url)
                assert server.http.get(target.path).status_code == 200, (page, url)
            for script in re.findall(r"url:\s*'([^']+)'", answer.text):
                assert script.startswith("/"), (page, script)
        assert server.http.get("/redoc").status_code == 404  # off: it would load from a CDN
        css = server.http.get("/docs/assets/swagger-ui.css").text
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", css)
        assert checked >= 2
