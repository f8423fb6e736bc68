"""Ground truth of one synthetic page; every coordinate is in pixels of the FINAL (skewed) page.

Polygons are four ``(x, y)`` corners (clockwise from the top-left of the unskewed element);
boxes are their axis-aligned bounds ``(x0, y0, x1, y1)``, the form detectors are scored on.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

Point = tuple[float, float]
Polygon = tuple[Point, Point, Point, Point]
Box = tuple[float, float, float, float]

CHECK_MARKS: tuple[str, ...] = ("check", "cross", "fill")


def polygon_box(polygon: Polygon) -> Box:
    xs, ys = zip(*polygon, strict=True)
    return (min(xs), min(ys), max(xs), max(ys))


@dataclass(frozen=True)
class TextLineTruth:
    text: str
    polygon: Polygon
    handwritten: bool = False


@dataclass(frozen=True)
class CheckboxTruth:
    polygon: Polygon
    checked: bool
    mark: str | None  # one of CHECK_MARKS when checked

    @property
    def box(self) -> Box:
        return polygon_box(self.polygon)


@dataclass(frozen=True)
class SignatureTruth:
    present: bool
    polygon: Polygon | None = None

    @property
    def box(self) -> Box | None:
        return polygon_box(self.polygon) if self.polygon else None


@dataclass(frozen=True)
class PageTruth:
    seed: int
    document_type: str
    width: int
    height: int
    skew_degrees: float  # counter-clockwise rotation of the content, as displayed (y down)
    text_lines: list[TextLineTruth] = field(default_factory=list)
    checkboxes: list[CheckboxTruth] = field(default_factory=list)
    signature: SignatureTruth = field(default_factory=lambda: SignatureTruth(present=False))

    def to_json(self) -> str:
        data = asdict(self)
        for checkbox, source in zip(data["checkboxes"], self.checkboxes, strict=True):
            checkbox["box"] = source.box
        data["signature"]["box"] = self.signature.box
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str) -> PageTruth:
        data = json.loads(text)
        data["text_lines"] = [
            TextLineTruth(line["text"], _polygon(line["polygon"]), line["handwritten"])
            for line in data["text_lines"]
        ]
        data["checkboxes"] = [
            CheckboxTruth(_polygon(box["polygon"]), box["checked"], box["mark"])
            for box in data["checkboxes"]
        ]
        signature = data["signature"]
        data["signature"] = SignatureTruth(
            signature["present"], _polygon(signature["polygon"]) if signature["polygon"] else None
        )
        return cls(**data)


def _polygon(points: list[list[float]]) -> Polygon:
    return tuple(tuple(point) for point in points)  # type: ignore[return-value]
