"""Load generation for the HTTP benchmarks: wrk where installed, else a Python generator.

Both send a fixed list of prepared requests (method, path, headers, body), spread over the
connections, and report requests/s, latency percentiles and the answers that were not 2xx.
Given a rate, both send at that constant pace, for latency at a load below the maximum.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass(frozen=True)
class Prepared:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LoadResult:
    tool: str
    requests: int
    seconds: float
    non_2xx: int
    latencies_ms: list[float] = field(default_factory=list)
    p50_ms: float | None = None
    p99_ms: float | None = None
    server_cpu_ms: float | None = None  # the server process's CPU per request, where known

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        p50 = f"{self.p50_ms:.1f}" if self.p50_ms is not None else "-"
        p99 = f"{self.p99_ms:.1f}" if self.p99_ms is not None else "-"
        return (
            f"{self.rate:8.0f} req/s  p50 {p50:>7} ms  p99 {p99:>7} ms  "
            f"non-2xx {self.non_2xx}/{self.requests}  ({self.tool})"
        )


def percentile(values: Sequence[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


# --- wrk ------------------------------------------------------------------------------------

_LUA = r"""
local requests = {}
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local file = io.open(args[1], "r")
  local total = tonumber(args[2])
  local index = 0
  while true do
    local path = file:read("*l")
    if path == nil then break end
    local count = tonumber(file:read("*l"))
    local headers = {}
    for _ = 1, count do
      local name = file:read("*l")
      headers[name] = file:read("*l")
    end
    local body = file:read("*l")
    if index % total == tid then
      table.insert(requests, wrk.format("POST", path, headers, body))
    end
    index = index + 1
  end
  file:close()
end

function request()
  counter = counter + 1
  return requests[((counter - 1) % #requests) + 1]
end
"""


# A constant rate: each wrk thread hands out send times `interval` ms apart, whichever of its
# connections is free takes the next one (a connection held up by a slow answer does not slow
# the offered load, as a fixed pause per connection would). The times are absolute, so the rate
# reached is the one asked for whenever the server keeps up; wrk's latency counts from the send.
_PACED = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } cartback_timespec;
int clock_gettime(int clock_id, cartback_timespec *tp);
]]
local clock = ffi.new("cartback_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
local interval = {interval}
local next_send = nil

function delay()
  local now = now_ms()
  next_send = (next_send or now) + interval
  return math.max(0, math.floor(next_send - now))
end
"""


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    base_url: str,
    prepared: Sequence[Prepared],
    *,
    connections: int,
    seconds: float,
    threads: int,
    rate: float | None = None,
) -> LoadResult:
    """At a constant `rate` requests/s when given (see `_PACED`): the result's rate says
    whether the server kept up with it."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "requests.lua"
        paced = "" if rate is None else _PACED.replace("{interval}", f"{threads * 1000 / rate:.4f}")
        script.write_text(_LUA + paced)
        listing = Path(folder) / "requests.txt"
        with listing.open("w") as out:
            for item in prepared:
                out.write(item.path + "\n" + str(len(item.headers)) + "\n")
                for name, value in item.headers.items():
                    out.write(f"{name}\n{value}\n")
                out.write(item.body.decode() + "\n")
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(script),
            base_url,
            "--",
            str(listing),
            str(threads),
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result = _parse_wrk(output)
    if rate is not None:
        result.tool = f"wrk at {rate:.0f}/s"
    return result


def _parse_wrk(output: str) -> LoadResult:
    done = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
    if done is None:
        raise RuntimeError(f"wrk printed no totals:\n{output}")
    seconds = float(done.group(2)) * {"s": 1.0, "ms": 0.001, "m": 60.0}[done.group(3)]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failed = int(non_2xx.group(1)) if non_2xx else 0
    if errors:
        failed += sum(int(errors.group(n)) for n in range(1, 5))
    return LoadResult(
        tool="wrk",
        requests=int(done.group(1)),
        seconds=seconds,
        non_2xx=failed,
        p50_ms=_wrk_latency(output, "50%"),
        p99_ms=_wrk_latency(output, "99%"),
    )


def _wrk_latency(output: str, label: str) -> float | None:
    found = re.search(rf"^\s*{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if found is None:
        return None
    return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]


# --- Python ---------------------------------------------------------------------------------


def run_python(
    base_url: str,
    prepared: Sequence[Prepared],
    *,
    connections: int,
    rate: float | None = None,
) -> LoadResult:
    """Send every prepared request once over `connections` connections; at `rate` per second
    when given (paced from the start, so a slow answer does not slow the offered load)."""
    return asyncio.run(_python(base_url, prepared, connections, rate))


async def _python(
    base_url: str, prepared: Sequence[Prepared], connections: int, rate: float | None
) -> LoadResult:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    latencies: list[float] = []
    failures = 0
    queue: asyncio.Queue[tuple[int, Prepared]] = asyncio.Queue()
    for number, item in enumerate(prepared):
        queue.put_nowait((number, item))
    started = time.perf_counter()

    async def one(client: httpx.AsyncClient) -> None:
        nonlocal failures
        while True:
            try:
                number, item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if rate is not None:
                wait = started + number / rate - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
            sent = time.perf_counter()
            try:
                response = await client.post(item.path, content=item.body, headers=item.headers)
                ok = 200 <= response.status_code < 300
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - sent) * 1000)
            failures += not ok

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        await asyncio.gather(*(one(client) for _ in range(connections)))
    seconds = time.perf_counter() - started
    return LoadResult(
        tool="python" + (f" at {rate:.0f}/s" if rate else ""),
        requests=len(prepared),
        seconds=seconds,
        non_2xx=failures,
        latencies_ms=latencies,
        p50_ms=statistics.median(latencies) if latencies else None,
        p99_ms=percentile(latencies, 0.99),
    )
