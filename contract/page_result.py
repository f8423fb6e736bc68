"""The page result: one versioned schema for what every document pipeline returns.

The Triton ``page_result`` model builds it, the gateway returns it unchanged (inside a
:class:`DocumentResult` for multi-page documents), and both clients parse it back into these
classes. A part a pipeline does not run is ``null``. Every coordinate is in pixels of the page
as the client sent it (``page.width`` x ``page.height``), whatever the pipeline straightened
internally, so results can be drawn straight onto the original image.

``python -m docserve.contract.page_result OUT.json`` writes the JSON Schema
(docs/page-result.schema.json is generated that way; a test keeps it current).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# 1.1 added `orientation`, 1.2 the words of each text line; minor versions only add optional
# parts, so a 1.2 reader reads 1.1 and 1.0.
SCHEMA_VERSION = "1.2"

Point = tuple[float, float]
Polygon = tuple[Point, Point, Point, Point]
Box = tuple[float, float, float, float]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelVersion(_Part):
    """A Triton model and the version of it that produced a part."""

    name: str
    version: str


class PageSize(_Part):
    width: int
    height: int


class Orientation(_Part):
    degrees: Literal[0, 90, 180, 270] = Field(
        description="Counter-clockwise quarter turns of the content as sent (like `skew.degrees`); "
                    "the pipeline turned the page back by this much before deskewing it")
    score: float = Field(description="The orientation model's probability for it")
    models: list[ModelVersion]


class Skew(_Part):
    degrees: float = Field(description="Counter-clockwise rotation of the content once turned "
                                       "upright (see `orientation`); the pipeline rotated the "
                                       "page back by this much")
    models: list[ModelVersion]


class DocumentType(_Part):
    label: str = Field(description="The most probable document type")
    score: float = Field(description="Its probability")
    scores: dict[str, float] = Field(description="Probability of every known type")
    models: list[ModelVersion]


class Word(_Part):
    """One word of a text line: where the recognizer read it, and how surely."""

    text: str = Field(description="No whitespace; a line's words joined by single spaces are its "
                                  "text with runs of whitespace made one space and the ends trimmed")
    confidence: float = Field(description="Lowest probability of its characters (a line's "
                                          "confidence is the mean of its own)")
    polygon: Polygon = Field(description="Corners (x, y) clockwise from the word's top-left, inside its "
                                         "line's polygon and along its baseline")


class TextLine(_Part):
    text: str
    confidence: float
    polygon: Polygon = Field(description="Corners (x, y) clockwise from the line's top-left")
    words: list[Word] | None = Field(default=None, description="The line split at its spaces, in "
                                     "reading order; null in results of schema 1.0 and 1.1")


class SkippedStep(_Part):
    """Why a conditional step did not run."""

    reason: str = Field(examples=["unexpected document type"])
    document_type: str | None = Field(default=None, description="The type found, when the reason is it")
    expected_document_types: list[str] = Field(default_factory=list)


class Text(_Part):
    lines: list[TextLine] = Field(description="In reading order; empty when skipped")
    skipped: SkippedStep | None = None
    models: list[ModelVersion]


class Checkbox(_Part):
    box: Box = Field(description="Axis-aligned bounds (x0, y0, x1, y1) of the checkbox")
    polygon: Polygon = Field(description="Its four corners, following the page's skew")
    checked: bool
    score: float = Field(description="Confidence in `checked`")


class Checkboxes(_Part):
    items: list[Checkbox]
    models: list[ModelVersion]


class Signature(_Part):
    present: bool
    score: float = Field(description="Highest signature probability on the page")
    box: Box | None = Field(description="Bounds (x0, y0, x1, y1) of the signature; null if absent")
    models: list[ModelVersion]


class FieldText(_Part):
    """Text read as one piece of a form field: a key, a value, a checkbox option's label."""

    text: str
    polygon: Polygon = Field(description="Corners (x, y) clockwise from the text's top-left")
    confidence: float = Field(description="How surely it was read and labelled (0-1)")


class FieldOption(_Part):
    """One checkbox of a checkbox pair, with the text that names it."""

    text: str | None = Field(description="The words beside the box; null when none name it")
    checked: bool
    polygon: Polygon = Field(description="The box's four corners")
    confidence: float = Field(description="The checkbox model's confidence in `checked`")


class KeyValue(_Part):
    """A printed key and the value that answers it: a form field, read without any set-up."""

    key: FieldText
    value: FieldText | None = Field(description="null when the field was left empty; for a "
                                    "checkbox pair the checked options' texts joined with \", \"")
    kind: Literal["text", "checkbox", "signature"]
    options: list[FieldOption] = Field(default_factory=list, description="Checkbox pairs: every "
                                       "box answering the key, ticked or not")
    present: bool | None = Field(default=None, description="Signature pairs: signed or not")
    date: FieldText | None = Field(default=None, description="Signature pairs: the date written "
                                   "beside the signature's label, when there is one")
    confidence: float = Field(description="The pair's confidence (0-1): that key and value belong "
                              "together and were read right")


class PageResult(_Part):
    """One page through one pipeline. A pipeline may add parts of its own (extra fields)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    schema_version: Literal["1.2", "1.1", "1.0"] = SCHEMA_VERSION
    page: PageSize
    orientation: Orientation | None = None
    skew: Skew | None = None
    document_type: DocumentType | None = None
    text: Text | None = None
    checkboxes: Checkboxes | None = None
    signature: Signature | None = None
    key_values: list[KeyValue] | None = Field(default=None, description="The page's form fields, in "
                                              "reading order; null when the pipeline does not pair them")
    timings_ms: dict[str, float] = Field(
        default_factory=dict,
        description="Wall time of the pipeline's processing steps (model inference is in "
                    "Triton's per-model metrics)",
    )


class PageEntry(_Part):
    page: int = Field(description="1-based page number in the document")
    seconds: float = Field(description="Time from sending the page to Triton to its result")
    result: PageResult


class DocumentResult(_Part):
    """A whole document through one pipeline, as the gateway returns it."""

    pipeline: str
    page_count: int = Field(description="Pages in the document (all of them, analysed or not)")
    pages: list[PageEntry]
    timings: dict[str, float]


def write_json_schema(path: Path) -> None:
    schema = {"page_result": PageResult.model_json_schema(),
              "document_result": DocumentResult.model_json_schema()}
    path.write_text(json.dumps(schema, indent=2) + "\n")


if __name__ == "__main__":
    write_json_schema(Path(sys.argv[1]))
