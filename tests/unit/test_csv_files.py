"""The CSV files cartback imports: touches, consent and discount codes, with their errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cartback.csv_files import CsvFileError, read_codes_csv, read_consent_csv, read_touches_csv
from cartback.domain.consent import ConsentRecord
from cartback.domain.records import Touch
from cartback.errors import CartbackError

PHONE = "+4520123456"


# --- touches ----------------------------------------------------------------------------------


def test_csv_columns_may_come_in_any_order_and_extra_ones_are_ignored() -> None:
    text = (
        "Source,Channel,Sent_At,Email,Phone,campaign\nnews,EMAIL,2026-11-28T07:00:00Z,a@b.dk,,x\n"
    )

    assert read_touches_csv(text) == [
        Touch("a@b.dk", "email", datetime(2026, 11, 28, 7, 0, tzinfo=UTC), "news")
    ]


def test_csv_without_the_header_is_refused() -> None:
    with pytest.raises(CsvFileError, match="line 1: the header lacks the column"):
        read_touches_csv("+4520123456,,sms,2026-11-28T07:00:00Z,x\n")


def test_csv_errors_name_the_line_and_column() -> None:
    text = (
        "phone,email,channel,sent_at,source\n"
        "+4520123456,,sms,2026-11-28T07:00:00Z,ok\n"
        "\n"
        "12,,sms,2026-11-28T07:00:00Z,x\n"
        ",not-an-email,email,2026-11-28T07:00:00Z,x\n"
        "+4520123456,,sms,2026-11-28 07:00:00,x\n"
        "+4520123456,,fax,2026-11-28T07:00:00Z,x\n"
        "+4520123456,,sms,yesterday,\n"
    )

    with pytest.raises(CsvFileError) as caught:
        read_touches_csv(text, default_country="DK")

    problems = caught.value.problems
    assert problems[0].startswith("line 4, column phone: phone number")
    assert problems[1].startswith("line 5, column email:")
    assert problems[2].startswith("line 6, column sent_at: needs a UTC offset")
    assert problems[3] == "line 7, column channel: expected sms or email, got 'fax'"
    assert problems[4].startswith("line 8, column sent_at: not an ISO 8601 time")
    assert problems[5].startswith("line 8, column source:")
    assert len(problems) == 6


def test_csv_errors_never_repeat_a_phone_number() -> None:
    text = "phone,email,channel,sent_at,source\n+45 2012,,sms,2026-11-28T07:00:00Z,x\n"

    with pytest.raises(CsvFileError) as caught:
        read_touches_csv(text)

    assert "2012" not in str(caught.value)


def test_a_national_number_needs_a_default_country() -> None:
    text = "phone,email,channel,sent_at,source\n20123456,,sms,2026-11-28T07:00:00Z,x\n"

    with pytest.raises(CsvFileError, match="line 2, column phone"):
        read_touches_csv(text)
    assert read_touches_csv(text, default_country="DK")[0].address == PHONE


# --- consent ----------------------------------------------------------------------------------

CONSENT_HEADER = "store,phone,email,channel,granted,occurred_at,wording\n"


def test_consent_rows_become_records_under_their_normalised_address() -> None:
    text = CONSENT_HEADER + (
        "acme,20 12 34 56,,sms,yes,2026-11-01T10:00:00+01:00,Ticked the box at the till\n"
        "acme,, Astrid@Example.COM ,email,withdrawn,2026-11-02T10:00:00Z,Newsletter\n"
    )

    records = read_consent_csv(text, {"acme": "DK"})

    at = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    assert records[0] == ConsentRecord("acme", "sms", PHONE, True, at, "Ticked the box at the till")
    assert (records[1].address, records[1].granted) == ("astrid@example.com", False)


def test_consent_errors_name_the_line_and_column_of_each_problem() -> None:
    text = CONSENT_HEADER + (
        "nope,+4520123456,,sms,yes,2026-11-01T10:00:00Z,x\n"
        "acme,12,,sms,perhaps,2026-11-01T10:00:00Z,x\n"
        "acme,,not-an-email,email,yes,2026-11-01T10:00:00,\n"
    )

    with pytest.raises(CsvFileError) as caught:
        read_consent_csv(text, {"acme": "DK"})

    assert caught.value.problems == [
        "line 2, column store: 'nope' is not configured",
        "line 3, column phone: phone number is too short",
        "line 3, column granted: 'perhaps' is not yes or no",
        "line 4, column email: not an email address like name@example.com",
        "line 4, column occurred_at: needs a UTC offset (e.g. 2026-11-29T12:00:00+01:00)",
        "line 4, column wording: the words the person agreed to are required",
    ]
    assert isinstance(caught.value, CartbackError) and caught.value.code == "invalid_file"


def test_a_consent_file_without_its_columns_is_refused() -> None:
    with pytest.raises(CsvFileError, match="line 1: the header lacks the column"):
        read_consent_csv("store,phone\nacme,+4520123456\n", {"acme": None})


# --- discount codes ---------------------------------------------------------------------------


def test_read_codes_csv_takes_one_code_per_row_with_an_optional_header() -> None:
    text = "code\nSAVE-A\n\n  SAVE-B  \r\nSAVE-C,\n"

    assert read_codes_csv(text) == ["SAVE-A", "SAVE-B", "SAVE-C"]
    assert read_codes_csv("SAVE-A\nSAVE-B\n") == ["SAVE-A", "SAVE-B"]


def test_read_codes_csv_reads_a_file_with_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("\ufeffCode\nX1\nX2\n", encoding="utf-8")

    assert read_codes_csv(path) == ["X1", "X2"]


def test_read_codes_csv_names_the_line_of_each_problem() -> None:
    text = "code\nGOOD\nTWO,VALUES\nHAS SPACE\n" + "L" * 65 + "\n"

    with pytest.raises(CsvFileError) as caught:
        read_codes_csv(text)

    assert caught.value.problems == [
        "line 3: expected one code per row, found 2 values",
        "line 4: code 'HAS SPACE' contains a space",
        f"line 5: code '{'L' * 65}' is longer than 64 characters",
    ]


def test_a_header_after_the_first_row_is_a_code() -> None:
    assert read_codes_csv("A1\ncode\n") == ["A1", "code"]


def test_a_long_list_of_problems_is_cut_short_in_the_message() -> None:
    text = "".join(f"BAD CODE {n}\n" for n in range(25))

    with pytest.raises(CsvFileError) as caught:
        read_codes_csv(text)

    assert len(caught.value.problems) == 25
    assert str(caught.value).endswith("(and 5 more)")
