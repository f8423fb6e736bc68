"""Pen marks: signatures (handwriting font + random strokes) and checkbox ticks.

Signatures are rendered into a separate ink-coverage patch, so their exact ink box is known, then
pasted onto the page. Check marks are drawn with jittered strokes inside their box, so two ticks
never look alike.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw

from docserve.export.documents.canvas import DrawnCheckbox, PageCanvas
from docserve.export.documents.content import person_name
from docserve.export.documents.fonts import HANDWRITING_FONTS, load_font
from docserve.export.documents.ground_truth import CHECK_MARKS, Box


def _bezier(points: np.ndarray, steps: int = 40) -> np.ndarray:
    """Points along a cubic Bezier curve through four control points."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    p0, p1, p2, p3 = points
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3


def _scribble(draw: ImageDraw.ImageDraw, rng: np.random.Generator, width: int, height: int) -> None:
    """A few connected random pen strokes across the patch, like an illegible signature."""
    pen = int(rng.integers(2, 4))
    start = np.array([rng.uniform(0, 0.2) * width, rng.uniform(0.3, 0.8) * height])
    for _ in range(int(rng.integers(2, 5))):
        end = np.array([start[0] + rng.uniform(0.15, 0.4) * width, rng.uniform(0.2, 0.9) * height])
        controls = np.array(
            [start, *(rng.uniform([0, 0], [width, height], size=(2, 2))), end], dtype=np.float64
        )
        curve = _bezier(controls)
        draw.line([tuple(p) for p in curve], fill=255, width=pen, joint="curve")
        start = np.minimum(end, [width * 0.95, height * 0.95])


def signature_patch(rng: np.random.Generator, max_width: int, max_height: int) -> np.ndarray:
    """Ink coverage (0..1) of a signature: a name in a handwriting font and/or pen scribbles."""
    width, height = max_width, max_height
    patch = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(patch)
    style = rng.choice(["name", "name+flourish", "scribble"])
    if style != "scribble":
        font_file = HANDWRITING_FONTS[int(rng.integers(len(HANDWRITING_FONTS)))]
        font = load_font(font_file, int(height * 0.55))
        name = person_name(rng)
        if rng.random() < 0.5:
            name = f"{name[0]}. {name.split()[1]}"
        draw.text((rng.uniform(0, 0.1) * width, height * 0.1), name, font=font, fill=255)
    if style != "name":
        _scribble(draw, rng, width, height)
    coverage = np.asarray(patch, dtype=np.float32) / 255.0
    shear = np.float32([[1, rng.uniform(-0.35, 0.1), height * 0.2], [0, 1, 0]])
    coverage = cv2.warpAffine(coverage, shear, (width, height))
    if coverage.max() < 0.5:  # everything sheared out of the patch: fall back to a scribble
        return signature_patch(rng, max_width, max_height)
    return coverage


def draw_signature(canvas: PageCanvas, rng: np.random.Generator, area: Box) -> None:
    """Sign inside ``area`` and record the ink box as the page's signature."""
    x0, y0, x1, y1 = (int(v) for v in area)
    patch = signature_patch(rng, x1 - x0, y1 - y0)
    canvas.signature_box = canvas.paste_ink(patch, (x0, y0), ink=int(rng.integers(10, 70)))


def draw_checkbox(canvas: PageCanvas, rng: np.random.Generator, xy: tuple[float, float], side: int,
                  checked: bool) -> Box:
    """An empty square, or one ticked with a check, a cross or a fill; recorded on the canvas."""
    x, y = xy
    box = (x, y, x + side, y + side)
    canvas.rectangle(box, width=int(rng.integers(1, 3)), ink=int(rng.integers(0, 60)))
    mark = str(rng.choice(CHECK_MARKS)) if checked else None
    if mark is not None:
        _draw_mark(canvas, rng, box, mark)
    canvas.checkboxes.append(DrawnCheckbox(box, checked, mark))
    return box


def _draw_mark(canvas: PageCanvas, rng: np.random.Generator, box: Box, mark: str) -> None:
    x0, y0, x1, y1 = box
    side = x1 - x0
    ink = int(rng.integers(0, 80))
    pen = max(2, int(side * rng.uniform(0.1, 0.18)))

    def at(u: float, v: float) -> tuple[float, float]:
        jitter = rng.normal(0, 0.04, size=2)
        return (x0 + (u + jitter[0]) * side, y0 + (v + jitter[1]) * side)

    if mark == "check":
        canvas.line([at(0.18, 0.55), at(0.42, 0.82), at(0.88, 0.12)], width=pen, ink=ink)
    elif mark == "cross":
        canvas.line([at(0.18, 0.18), at(0.82, 0.82)], width=pen, ink=ink)
        canvas.line([at(0.82, 0.18), at(0.18, 0.82)], width=pen, ink=ink)
    else:
        inset = side * rng.uniform(0.15, 0.25)
        inner = (x0 + inset, y0 + inset, x1 - inset, y1 - inset)
        canvas.rectangle(inner, width=1, ink=ink, fill=ink)
