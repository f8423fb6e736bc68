"""A document's form fields as CSV rows."""

from __future__ import annotations

import csv
import io

from docserve.contract.field_rows import field_rows_csv
from docserve.contract.page_result import (
    DocumentResult,
    FieldOption,
    FieldText,
    KeyValue,
    PageEntry,
    PageResult,
    PageSize,
)

SQUARE = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


def text(value: str) -> FieldText:
    return FieldText(text=value, polygon=SQUARE, confidence=0.9)


def page(number: int, pairs: list[KeyValue] | None) -> PageEntry:
    return PageEntry(page=number, seconds=1.0,
                     result=PageResult(page=PageSize(width=10, height=10), key_values=pairs))


def rows(result: DocumentResult) -> list[list[str]]:
    return list(csv.reader(io.StringIO(field_rows_csv(result))))


def test_every_kind_of_pair_is_one_row_per_page():
    first = [KeyValue(key=text("Name:"), value=text("Jane Smith"), kind="text", confidence=0.95),
             KeyValue(key=text("Phone:"), value=None, kind="text", confidence=0.4)]
    second = [KeyValue(key=text("Married?"), value=text("yes"), kind="checkbox", confidence=0.99,
                       options=[FieldOption(text="yes", checked=True, polygon=SQUARE, confidence=0.99)]),
              KeyValue(key=text("Signature"), value=None, kind="signature", present=False, confidence=0.8)]
    result = DocumentResult(pipeline="form_fields", page_count=3, timings={},
                            pages=[page(1, first), page(2, second), page(3, None)])
    assert rows(result) == [
        ["page", "key", "value", "kind", "confidence"],
        ["1", "Name:", "Jane Smith", "text", "0.9500"],
        ["1", "Phone:", "", "text", "0.4000"],
        ["2", "Married?", "yes", "checkbox", "0.9900"],
        ["2", "Signature", "not signed", "signature", "0.8000"],
    ]


def test_text_a_spreadsheet_would_run_as_a_formula_is_written_as_text():
    pairs = [KeyValue(key=text("=HYPERLINK(\"x\")"), value=text("+1 555 0134"), kind="text", confidence=1.0)]
    result = DocumentResult(pipeline="form_fields", page_count=1, timings={}, pages=[page(1, pairs)])
    assert rows(result)[1][1:3] == ["'=HYPERLINK(\"x\")", "'+1 555 0134"]
