"""A document result's form fields as flat rows: what a person pastes into a spreadsheet.

One row per key -> value pair of every page (``page, key, value, kind, confidence``), in page
order, then in the page's reading order. A checkbox pair's value is its checked options' texts
(empty when none is ticked); a signature pair's is ``signed`` or ``not signed``. Cells that a
spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return: OCR'd text is the sender's) are written with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io

from docserve.contract.page_result import DocumentResult, KeyValue

COLUMNS = ("page", "key", "value", "kind", "confidence")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def field_rows_csv(result: DocumentResult) -> str:
    """The fields of every page of ``result`` as CSV text with a header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for entry in result.pages:
        for pair in entry.result.key_values or []:
            writer.writerow([entry.page, _cell(pair.key.text), _cell(_value(pair)), pair.kind,
                             f"{pair.confidence:.4f}"])
    return buffer.getvalue()


def _value(pair: KeyValue) -> str:
    if pair.kind == "signature":
        return "signed" if pair.present else "not signed"
    return pair.value.text if pair.value is not None else ""


def _cell(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text
