"""Make a clean rendered page look scanned: skew and perspective, then photometric damage.

The geometry is one homography, so ground-truth points are mapped exactly with it; the output
canvas grows to hold the rotated page on a scanner-lid background, as a real scan would.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw

from docserve.export.documents.canvas import PageCanvas
from docserve.export.documents.fonts import BOLD_FONTS, load_font

STAMP_WORDS = ("PAID", "COPY", "RECEIVED", "APPROVED", "ORIGINAL", "SCANNED")


@dataclass(frozen=True)
class ScanGeometry:
    """Maps unskewed page pixels to final page pixels."""

    homography: np.ndarray  # 3x3
    width: int
    height: int

    def map_points(self, points: np.ndarray) -> np.ndarray:
        """``[N, 2]`` page points -> ``[N, 2]`` final points."""
        return _map(points, self.homography)


def draw_stamp(canvas: PageCanvas, rng: np.random.Generator) -> None:
    """A faint, rotated rubber stamp somewhere on the paper (part of the document, so pre-skew)."""
    font = load_font(BOLD_FONTS[int(rng.integers(len(BOLD_FONTS)))], int(rng.integers(40, 70)))
    word = str(rng.choice(STAMP_WORDS))
    patch = Image.new("L", (int(font.getlength(word)) + 40, font.size + 40), 0)
    draw = ImageDraw.Draw(patch)
    draw.rectangle((4, 4, patch.width - 5, patch.height - 5), outline=255, width=4)
    draw.text((20, 12), word, font=font, fill=255)
    patch = patch.rotate(float(rng.uniform(-30, 30)), expand=True)
    coverage = np.asarray(patch, dtype=np.float32) / 255 * rng.uniform(0.3, 0.6)
    x = int(rng.integers(0, max(1, canvas.width - patch.width)))
    y = int(rng.integers(0, max(1, canvas.height - patch.height)))
    canvas.paste_ink(coverage, (x, y), ink=int(rng.integers(60, 140)))


def scan_geometry(width: int, height: int, skew_degrees: float, rng: np.random.Generator,
                  perspective: float = 0.004) -> ScanGeometry:
    """Rotation by ``skew_degrees`` (counter-clockwise as displayed) plus a slight perspective."""
    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    jitter = rng.uniform(-perspective, perspective, size=(4, 2)) * [width, height]
    homography = cv2.getPerspectiveTransform(corners, (corners + jitter).astype(np.float32))
    rotation = cv2.getRotationMatrix2D((width / 2, height / 2), skew_degrees, 1.0)
    homography = np.vstack([rotation, [0, 0, 1]]) @ homography
    mapped = _map(corners, homography)
    margin = rng.integers(8, 40, size=2)
    low = mapped.min(axis=0) - margin
    high = mapped.max(axis=0) + margin
    shift = np.array([[1, 0, -low[0]], [0, 1, -low[1]], [0, 0, 1]])
    size = np.ceil(high - low).astype(int)
    return ScanGeometry(shift @ homography, int(size[0]), int(size[1]))


def _map(points: np.ndarray, homography: np.ndarray) -> np.ndarray:
    mapped = cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), homography)
    return mapped.reshape(-1, 2)


def warp_page(page: np.ndarray, geometry: ScanGeometry, background: int) -> np.ndarray:
    return cv2.warpPerspective(
        page, geometry.homography, (geometry.width, geometry.height),
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=background,
    )


def scanner_background(rng: np.random.Generator) -> int:
    """A white lid most of the time, sometimes a dark one (strong page edges)."""
    return int(rng.integers(225, 256)) if rng.random() < 0.75 else int(rng.integers(20, 90))


def degrade(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uneven light, streaks, blur, sensor noise and JPEG artefacts, each of random strength."""
    image = page.astype(np.float32)
    image *= _uneven_light(image.shape, rng)
    if rng.random() < 0.3:
        _streak(image, rng)
    sigma = rng.uniform(0.0, 1.1)
    if sigma > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    image += rng.normal(0, rng.uniform(0, 7), size=image.shape).astype(np.float32)
    image = image.clip(0, 255).astype(np.uint8)
    quality = int(rng.integers(35, 95))
    encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
    return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)


def _uneven_light(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    direction = rng.normal(size=2)
    ramp = (xs / width * direction[0] + ys / height * direction[1])
    ramp /= np.abs(direction).sum() + 1e-6
    return (1.0 - rng.uniform(0, 0.18) * (ramp - ramp.min())).astype(np.float32)


def _streak(image: np.ndarray, rng: np.random.Generator) -> None:
    """A thin scanner streak or fold line across the whole scan."""
    tone = rng.uniform(0.55, 0.9)
    if rng.random() < 0.5:
        x = int(rng.integers(0, image.shape[1]))
        image[:, x : x + int(rng.integers(1, 3))] *= tone
    else:
        y = int(rng.integers(0, image.shape[0]))
        image[y : y + int(rng.integers(1, 3)), :] *= tone
