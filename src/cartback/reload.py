"""A new config without a restart: `kill -HUP` a `cartback serve` or `cartback worker`.

The file is read and checked as at start; a config that fails keeps the running one and says
why in one log line. A good one is built on the same database, clock and metrics and then
swapped in: requests that arrive after it see the new stores, tokens and channel settings, and
the worker's next pass uses the new flows and gateways (a pass already running ends on the old
ones). What the process was started with stays until a restart: `database_url`,
`database_lanes`, the listening address, the worker's `poll_interval` and `batch_size`.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

from cartback.config import ConfigError, Settings, load_config
from cartback.engine.scheduler import Scheduler
from cartback.gateways import Gateways
from cartback.runtime import Runtime
from cartback.startup import OperatorError, channel_findings

log = logging.getLogger("cartback")

# What a reload replaces; the store, clock, metrics and the worker object (its thread's) stay.
# The signing secrets too: a rotated secret signs the new scheduler's links and callback keys,
# and the API must verify what it signs (and keep verifying the previous secrets).
_SWAPPED = ("settings", "ingest", "scheduler", "feedback", "gateways", "signing")


def reload(
    runtime: Runtime, config_file: str | Path, retired: threading.Event | None = None
) -> bool:
    """Read `config_file` again and use it; False (and the old config kept) when it fails.
    The old config's send threads and gateway connections are let go in the background, once
    nothing uses them (`retired` is set then)."""
    try:
        settings = _checked(runtime, load_config(config_file))
        if runtime.rebuild is None:
            raise OperatorError("this runtime cannot be rebuilt")
        fresh = runtime.rebuild(settings)
    except (ConfigError, OperatorError) as mistake:
        why = "; ".join(str(mistake).splitlines())
        log.error("config not reloaded, the running one stays: %s", why)
        return False
    replaced = (runtime.scheduler, runtime.gateways)
    for name in _SWAPPED:
        setattr(runtime, name, getattr(fresh, name))
    runtime.worker.scheduler = fresh.scheduler
    runtime.worker.jobs = fresh.worker.jobs
    # The delivery queue and the recorder keep their threads; the queue reads the new config.
    runtime.deliveries.ingest = fresh.ingest
    runtime.deliveries.parser_of = fresh.deliveries.parser_of
    log.info("config reloaded", extra={"config": str(config_file), "stores": len(settings.stores)})
    args = (runtime, *replaced, retired)
    threading.Thread(target=_retire, args=args, name="cartback-retire", daemon=True).start()
    return True


def _retire(
    runtime: Runtime, scheduler: Scheduler, gateways: Gateways, retired: threading.Event | None
) -> None:
    """The replaced scheduler's threads end and the replaced gateways close (those the new
    config goes on with stay open), once the worker's pass under way at the swap has ended
    and the runs it left sending have finished: each reload would otherwise keep them all."""
    try:
        runtime.worker.after_current_pass()
        scheduler.close()
        gateways.close(keep=runtime.gateways)
    except Exception:
        log.exception("letting go of the replaced config's gateways failed")
    finally:
        if retired is not None:
            retired.set()


def _checked(runtime: Runtime, settings: Settings) -> Settings:
    errors = [f.text for f in channel_findings(settings, strict_dns=False) if f.level == "error"]
    if errors:
        raise OperatorError("\n".join(errors))
    for key in ("database_url", "database_lanes"):  # the store is the running one
        if getattr(settings, key) != getattr(runtime.settings, key):
            log.warning("%s changed: it takes effect at the next restart", key)
            settings = settings.model_copy(update={key: getattr(runtime.settings, key)})
    return settings


class Reloader:
    """Reloads on SIGHUP, in a thread of its own (the signal may land in the server's loop)."""

    def __init__(self, runtime: Runtime, config_file: str | Path) -> None:
        self.runtime = runtime
        self.config_file = config_file
        self.done = threading.Event()
        self.retired = threading.Event()  # the last reload's old config let go
        self._lock = threading.Lock()

    def install(self) -> None:
        signal.signal(signal.SIGHUP, self.on_signal)

    def on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.done.clear()
        self.retired.clear()
        threading.Thread(target=self._run, name="cartback-reload", daemon=True).start()

    def _run(self) -> None:
        with self._lock:  # two quick signals: one reload after the other
            reload(self.runtime, self.config_file, self.retired)
        self.done.set()
