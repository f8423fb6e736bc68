"""A page being drawn, in unskewed page pixels, that records the ground truth of what it draws.

Layouts call :class:`PageCanvas` instead of drawing directly, so every text line, checkbox and
signature on the page is known exactly; the scan simulation later maps them into the final page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from docserve.export.documents.ground_truth import Box


@dataclass
class DrawnText:
    text: str
    box: Box
    handwritten: bool


@dataclass
class DrawnCheckbox:
    box: Box
    checked: bool
    mark: str | None


@dataclass
class PageCanvas:
    width: int
    height: int
    paper_tone: int = 255
    texts: list[DrawnText] = field(default_factory=list)
    checkboxes: list[DrawnCheckbox] = field(default_factory=list)
    signature_box: Box | None = None

    def __post_init__(self) -> None:
        self.image = Image.new("L", (self.width, self.height), self.paper_tone)
        self.draw = ImageDraw.Draw(self.image)

    def text(
        self,
        xy: tuple[float, float],
        text: str,
        font: ImageFont.FreeTypeFont,
        ink: int = 20,
        handwritten: bool = False,
    ) -> Box:
        """Draw one line of text at its top-left corner and record its tight ink box."""
        box = self.draw.textbbox(xy, text, font=font)
        self.draw.text(xy, text, font=font, fill=ink)
        if text.strip():
            self.texts.append(DrawnText(text, tuple(map(float, box)), handwritten))
        return box

    def text_width(self, text: str, font: ImageFont.FreeTypeFont) -> float:
        return self.draw.textlength(text, font=font)

    def line(self, points: list[tuple[float, float]], width: int = 1, ink: int = 40) -> None:
        self.draw.line(points, fill=ink, width=width)

    def rectangle(self, box: Box, width: int = 1, ink: int = 40, fill: int | None = None) -> None:
        self.draw.rectangle(box, outline=ink, width=width, fill=fill)

    def paste_ink(self, patch: np.ndarray, xy: tuple[int, int], ink: int) -> Box:
        """Darken the page with an ink-coverage patch (0..1) at ``xy``; return its ink box."""
        x, y = xy
        height, width = patch.shape
        page = np.asarray(self.image, dtype=np.float32)
        region = page[y : y + height, x : x + width]
        coverage = patch[: region.shape[0], : region.shape[1]]
        region[:] = region * (1 - coverage) + ink * coverage
        self.image = Image.fromarray(page.clip(0, 255).astype(np.uint8))
        self.draw = ImageDraw.Draw(self.image)
        rows = np.flatnonzero(coverage.max(axis=1) > 0.2)
        cols = np.flatnonzero(coverage.max(axis=0) > 0.2)
        return (float(x + cols[0]), float(y + rows[0]),
                float(x + cols[-1] + 1), float(y + rows[-1] + 1))
