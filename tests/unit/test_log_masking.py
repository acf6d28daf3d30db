"""No personal data in a log line, tracebacks included (issue 14.8)."""

from __future__ import annotations

import logging
import sys

from cartback.domain.redact import mask_text
from cartback.logs import KeyValueFormatter


def test_addresses_and_international_numbers_in_free_text_are_masked() -> None:
    text = (
        "Key (email)=(astrid.k@example.com) exists; +4520123456, +45 20 12 34 56, +1-415-555-1212"
    )
    masked = mask_text(text)
    assert masked == "Key (email)=(a***@example.com) exists; +45******56, +45******56, +1********12"
    assert mask_text(masked) == masked  # masking twice changes nothing


def test_ids_dates_and_amounts_are_left_alone() -> None:
    text = "cart_id=12345678901 at 2026-12-03T10:00:00+00:00 total=499.00 message_id=2d64e47a0a13"
    assert mask_text(text) == text


def test_the_formatter_masks_the_message_the_fields_and_the_traceback() -> None:
    formatter = KeyValueFormatter("%(levelname)s %(message)s")
    try:
        raise ValueError("duplicate key: (phone)=(+4520123456), (email)=(bo@example.dk)")
    except ValueError:
        record = logging.LogRecord(
            "cartback",
            logging.ERROR,
            __file__,
            1,
            "failed for %s",
            ("x@example.com",),
            sys.exc_info(),
        )
    record.to = "+4520999999"
    line = formatter.format(record)
    for personal in ("+4520123456", "bo@example.dk", "x@example.com", "+4520999999"):
        assert personal not in line
    assert "ValueError" in line and "+45******99" in line
