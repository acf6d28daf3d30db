"""The outbox provider writes each message id once, also when two processes share the file."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

from cartback.channels.base import OutgoingMessage, SendStatus
from cartback.channels.outbox import OutboxGateway
from cartback.clock import FakeClock
from cartback.domain.events import Channel

NOW = datetime(2026, 11, 30, 10, tzinfo=UTC)


def _message(message_id: str) -> OutgoingMessage:
    return OutgoingMessage(message_id, Channel.SMS, "+4520123456", "Acme", "Your basket is saved")


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["message_id"] for line in path.read_text().splitlines()]


def test_a_resend_of_the_same_id_writes_one_line(tmp_path: Path) -> None:
    outbox = OutboxGateway(tmp_path / "outbox.jsonl", FakeClock(NOW))
    assert outbox.send(_message("m-1")).status == SendStatus.SENT
    assert outbox.send(_message("m-1")).status == SendStatus.SENT
    assert _ids(tmp_path / "outbox.jsonl") == ["m-1"]


def test_another_writer_of_the_file_is_seen_before_appending(tmp_path: Path) -> None:
    """Two gateways on one file stand for two worker processes: the one that resends an id the
    other already wrote (after its crash and the lease) writes nothing."""
    path = tmp_path / "outbox.jsonl"
    first, second = OutboxGateway(path, FakeClock(NOW)), OutboxGateway(path, FakeClock(NOW))
    second.send(_message("m-0"))  # the second has looked at the file before
    first.send(_message("m-1"))
    second.send(_message("m-1"))
    first.send(_message("m-2"))
    assert _ids(path) == ["m-0", "m-1", "m-2"]


def _send_all(path: str, ids: list[str]) -> None:
    outbox = OutboxGateway(path, FakeClock(NOW))
    for message_id in ids:
        outbox.send(_message(message_id))


def test_processes_sending_the_same_ids_at_once_write_each_once(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    ids = [f"m-{n}" for n in range(200)]
    processes = [
        multiprocessing.get_context("spawn").Process(target=_send_all, args=(str(path), ids))
        for _ in range(3)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert sorted(_ids(path)) == sorted(ids)
