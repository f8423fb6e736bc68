"""The error table: one row per code, one class per row, and the docs' copy of it."""

from __future__ import annotations

import re

import grpc
import pytest

from docserve.contract import errors
from docserve.contract.errors import (
    ERROR_CODES,
    DocserveError,
    ErrorCode,
    HttpError,
    error_class,
    error_from_answer,
    error_table,
    retry_after,
)
from docserve.contract.model_repositories import PROJECT_ROOT

DOCS = PROJECT_ROOT / "docs" / "errors.md"
TABLE_START = ("<!-- error table: ERROR_CODES of contract/errors.py, checked by "
               "tests/contract/test_error_table.py -->")
TABLE_END = "<!-- end of the error table -->"


def _classes() -> list[type[DocserveError]]:
    found, pending = [], [DocserveError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending += cls.__subclasses__()
    return [cls for cls in found if cls.__module__ == errors.__name__]


def test_a_code_defined_twice_is_refused():
    row = ErrorCode("twice", 400, "INVALID_ARGUMENT", False, "Twice.")
    with pytest.raises(ValueError, match="twice"):
        error_table(row, row)


@pytest.mark.parametrize("row", ERROR_CODES.values(), ids=lambda row: row.code)
def test_every_code_has_a_status_for_each_transport_and_a_meaning(row: ErrorCode):
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", row.code)
    assert 400 <= row.http_status <= 599
    assert row.grpc_status in grpc.StatusCode.__members__  # a name the inference layer maps
    assert grpc.StatusCode[row.grpc_status] != grpc.StatusCode.OK
    assert isinstance(row.transient, bool)
    assert row.meaning.endswith(".") and "|" not in row.meaning


def test_what_says_come_back_later_is_transient():
    """A 429 or 503 sends Retry-After: another attempt is expected to succeed."""
    for row in ERROR_CODES.values():
        if row.http_status in (429, 503):
            assert row.transient, row.code


def test_one_class_per_code_carrying_its_row():
    classes = _classes()
    assert sorted(cls.code for cls in classes) == sorted(ERROR_CODES)
    for cls in classes:
        row = ERROR_CODES[cls.code]
        assert (cls.status_code, cls.grpc_status, cls.transient) == (
            row.http_status, row.grpc_status, row.transient)
        assert error_class(cls.code) is cls
        assert cls("m").retry_after_s is None  # a situation's wait, never a class default


def test_a_class_must_name_a_code_of_the_table_and_a_code_of_its_own():
    with pytest.raises(TypeError, match="lacks"):
        type("Unlisted", (DocserveError,), {"code": "no_such_code"})
    with pytest.raises(TypeError, match="both name 'queue_full'"):
        type("SecondQueueFull", (DocserveError,), {"code": "queue_full"})


@pytest.mark.parametrize("code", ERROR_CODES)
def test_an_answer_becomes_the_class_its_code_names(code: str):
    raised = error_class(code)("what went wrong", details={"field": "x"}, retry_after_s=7)
    received = error_from_answer(raised.status_code, **raised.body()["error"], retry_after_s=7)
    assert type(received) is type(raised)
    assert (received.status_code, received.code, received.message, received.details,
            received.retry_after_s) == (raised.status_code, code, "what went wrong", {"field": "x"}, 7)


def test_an_answer_of_an_unknown_code_keeps_its_status_and_code():
    received = error_from_answer(418, "teapot", "short and stout")
    assert isinstance(received, HttpError)
    assert (received.status_code, received.code, received.message) == (418, "teapot", "short and stout")


@pytest.mark.parametrize(("seconds", "header"), [(0.0, 1), (0.2, 1), (1.0, 1), (1.01, 2), (59.5, 60),
                                                 (3600.0, 60)])
def test_retry_after_is_whole_seconds_from_one_to_a_minute(seconds: float, header: int):
    assert retry_after(seconds) == header


def markdown_table() -> str:
    lines = ["| code | HTTP | gRPC | transient | meaning |", "| --- | --- | --- | --- | --- |"]
    for row in ERROR_CODES.values():
        cells = (f"`{row.code}`", str(row.http_status), f"`{row.grpc_status}`",
                 "yes" if row.transient else "no", row.meaning)
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def test_the_docs_show_the_table_as_it_is():
    text = DOCS.read_text(encoding="utf-8")
    assert TABLE_START in text and TABLE_END in text, f"{DOCS} lacks the table markers"
    documented = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip()
    expected = markdown_table()
    assert documented == expected, f"update the table in {DOCS} to:\n{expected}"
