"""Storing the deliveries of concurrent webhooks together: one transaction for many.

A webhook is answered only once its delivery is committed, and a commit waits for the disk
(PostgreSQL flushes its log; SQLite takes its one write lock). So the deliveries that arrive
while one commit is under way are written together in the next: one writer thread takes
whatever is waiting (up to `batch`), records it in one transaction and hands each webhook its
result. Under load that is one commit for many answers; alone, a delivery waits for nothing.
A batch that fails is written again one by one, so one bad delivery fails only its own webhook.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future

from cartback.engine.ingest import Delivery, IngestService, Recorded

log = logging.getLogger("cartback.ingest")

_Waiting = tuple[Delivery, "Future[Recorded]"]


class Recorder:
    def __init__(self, ingest: IngestService, batch: int = 64) -> None:
        self.ingest = ingest
        self.batch = batch
        self._waiting: queue.SimpleQueue[_Waiting] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._starting = threading.Lock()
        self._last_write = float("-inf")  # time.monotonic() of the last batch written

    def busy(self, within: float = 0.05) -> bool:
        """Whether webhooks arrive: something waits, or was written `within` seconds."""
        return not self._waiting.empty() or time.monotonic() - self._last_write < within

    def submit(self, delivery: Delivery) -> Future[Recorded]:
        """The delivery's `Recorded`, once it is committed."""
        done: Future[Recorded] = Future()
        self._start()
        self._waiting.put((delivery, done))
        return done

    def _start(self) -> None:
        if self._writer is not None:
            return
        with self._starting:
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write, name="cartback-recorder", daemon=True
                )
                self._writer.start()

    def _write(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < self.batch:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            self._record(batch)
            self._last_write = time.monotonic()

    def _record(self, batch: list[_Waiting]) -> None:
        try:
            results = self.ingest.record_many([delivery for delivery, _ in batch])
        except Exception:
            if len(batch) > 1:
                for one in batch:
                    self._record([one])
                return
            log.exception("storing a delivery failed")
            batch[0][1].set_exception(RuntimeError("the delivery could not be stored"))
            return
        for (_, done), result in zip(batch, results, strict=True):
            done.set_result(result)
