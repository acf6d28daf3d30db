"""Real `cartback` processes for the acceptance tests: started, watched and stopped in one place.

A process runs `python -m cartback.cli <args> --config <config>` in the test's tmp_path, with its
stdout and stderr in `<name>.stderr` there and without CARTBACK_DATABASE_URL, so that the config
file alone names the database. Given a port, it is a server: `--port` is added and it counts as
started once /healthz answers 200. It is stopped with SIGINT (killed after a deadline), its stderr
is printed (pytest shows it only for a failed test) and it must have exited with 0.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx
import pytest

STARTUP_DEADLINE = 30.0  # seconds: interpreter start, imports, SQLite migration
CONDITION_DEADLINE = 20.0  # seconds: abandon_after is 2s and the worker polls every 1s
STOP_DEADLINE = 20.0

T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def config_yaml(
    database_url: str, port: int, api_token: str, *, stores: str, channels: str, flows: str
) -> str:
    """A config for a process serving on `port`, no quiet hours, the worker polling every 1s;
    `stores`, `channels` and `flows` are YAML blocks, indented as they stand under their keys."""
    return f"""\
database_url: {database_url}
public_url: http://127.0.0.1:{port}
api_token: {api_token}
stores:
{stores}channels:
{channels}policy:
  quiet_hours: null
worker:
  poll_interval: 1s
flows:
{flows}"""


def stop(process: subprocess.Popen[bytes]) -> int | None:
    """SIGINT, then kill at the deadline; the exit code, or None when it had to be killed."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return None
    return process.returncode


@dataclass
class Running:
    """A started cartback process; `http` talks to it when it serves (it has a `port`)."""

    process: subprocess.Popen[bytes]
    stderr_path: Path
    http: httpx.Client = field(repr=False)
    port: int | None = None
    token: str = field(default="", repr=False)  # the config's api_token, for `api`
    deadline: float = CONDITION_DEADLINE  # how long `wait_for` waits
    poll_every: float = 0.1  # how often `wait_for` looks

    @classmethod
    @contextmanager
    def started(
        cls, args: list[str], config: Path, tmp_path: Path, name: str, **fields: Any
    ) -> Iterator[Self]:
        """Run `cartback <args>` (e.g. ["serve"] with a `port` field, or ["worker"]) until the
        block ends; `fields` are the class's own (port, token, deadline, ...)."""
        port: int | None = fields.get("port")
        command = [sys.executable, "-m", "cartback.cli", *args, "--config", str(config)]
        if port is not None:
            command += ["--port", str(port)]
        env = {k: v for k, v in os.environ.items() if k != "CARTBACK_DATABASE_URL"}
        stderr_path = tmp_path / f"{name}.stderr"
        with stderr_path.open("wb") as stderr_file:
            process = subprocess.Popen(
                command, stdout=stderr_file, stderr=stderr_file, env=env, cwd=tmp_path
            )
        base_url = "" if port is None else f"http://127.0.0.1:{port}"
        http = httpx.Client(base_url=base_url, timeout=10.0)
        what = f"cartback {' '.join(args)} ({name})"
        try:
            running = cls(process, stderr_path, http, **fields)
            if port is not None:
                running.wait_until_healthy()
            yield running
        finally:
            http.close()
            exit_code = stop(process)
            # Shown by pytest only when the test failed: the process's side of the story.
            log = stderr_path.read_text(encoding="utf-8", errors="replace")
            print(f"--- {what} stderr (exit code {exit_code}) ---\n{log}")
        assert exit_code == 0, f"{what} did not stop cleanly on SIGINT: {exit_code}"

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_DEADLINE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                pytest.fail(f"cartback exited with {code} at startup:\n{self.stderr()}")
            try:
                if self.http.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        pytest.fail(f"no healthy /healthz within {STARTUP_DEADLINE:g}s:\n{self.stderr()}")

    def api(self, path: str, **params: str | int) -> Any:
        """GET a REST API path with the Bearer token; it must answer 200; its JSON."""
        headers = {"Authorization": f"Bearer {self.token}"}
        response = self.http.get(path, params=params, headers=headers)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def wait_for(self, what: str, condition: Callable[[], T | None]) -> T:
        """Poll `condition` until it gives something truthy; fail naming `what` at the deadline."""
        deadline = time.monotonic() + self.deadline
        while True:
            found = condition()
            if found:
                return found
            if self.process.poll() is not None:
                pytest.fail(f"cartback exited ({self.process.returncode}) while waiting {what}")
            if time.monotonic() > deadline:
                pytest.fail(f"waited {self.deadline:g}s {what}; stderr:\n{self.stderr()}")
            time.sleep(self.poll_every)
