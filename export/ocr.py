"""``docserve export ocr``: copy PP-OCR's detector and recognizer out of the pinned rapidocr wheel.

The ``rapidocr`` wheel ships its ONNX models (Apache-2.0), so nothing is downloaded. The copies
get tensor names that say what they carry instead of Paddle's ``x``/``fetch_name_0``, and the
recognizer gets its greedy step (ArgMax + ReduceMax over the character axis) inside the graph:
it then returns two ``[lines, steps]`` tensors instead of an 18,710-way distribution per step
(~3 MB per line) that would otherwise cross Triton's shared memory only to be reduced by
Python. Each copy is checked against the original with onnxruntime before it is kept.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from docserve.export.model_card import write_model_card
from docserve.processing.text_recognition import (
    CHARACTER_SET_FILE,
    LINE_HEIGHT,
    MIN_LINE_WIDTH,
    RECOGNITION_INPUT,
    RECOGNITION_MODEL,
    RECOGNITION_OUTPUTS,
)

RAPIDOCR_VERSION = "3.10.0"  # keep equal to the pin in pyproject.toml: cards and results name it
DETECTION_SOURCE = "PP-OCRv6_det_small.onnx"
RECOGNITION_SOURCE = "PP-OCRv6_rec_small.onnx"
DETECTION_MODEL = "text_detection"
DETECTION_INPUT, DETECTION_OUTPUT = "normalized_page", "text_probability_map"
DECODER_MODEL = "ocr_lines"  # decodes recognizer steps to text: it keeps the character set
TENSOR_NAMES = {
    DETECTION_MODEL: {"x": DETECTION_INPUT, "fetch_name_0": DETECTION_OUTPUT},
    RECOGNITION_MODEL: {"x": RECOGNITION_INPUT},
}


class RapidocrVersionError(RuntimeError):
    """The installed rapidocr is not the version the model cards and benchmarks refer to."""


@dataclass(frozen=True)
class OcrExportReport:
    detection: Path
    recognition: Path
    character_set: Path
    characters: int


def rapidocr_model(file_name: str) -> Path:
    """Path of a model file inside the installed rapidocr package (checked to be the pin)."""
    installed = importlib.metadata.version("rapidocr")
    if installed != RAPIDOCR_VERSION:
        raise RapidocrVersionError(
            f"rapidocr {installed} is installed, the export expects {RAPIDOCR_VERSION}: "
            f"pip install rapidocr=={RAPIDOCR_VERSION}"
        )
    return Path(str(importlib.resources.files("rapidocr") / "models" / file_name))


def rename_tensors(graph: onnx.GraphProto, names: dict[str, str]) -> None:
    """Rename graph inputs/outputs (and every reference to them) in place."""
    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = names.get(value.name, value.name)
    for node in graph.node:
        node.input[:] = [names.get(name, name) for name in node.input]
        node.output[:] = [names.get(name, name) for name in node.output]


def append_greedy_step(graph: onnx.GraphProto) -> None:
    """Replace the per-step character distribution output by its argmax and max."""
    (distribution,) = graph.output
    steps = ["batch", "steps"]
    best_ids, best_probabilities = RECOGNITION_OUTPUTS
    graph.node.extend(
        [
            helper.make_node(
                "ArgMax", [distribution.name], [best_ids], axis=2, keepdims=0
            ),
            helper.make_node(
                "ReduceMax",
                [distribution.name],
                [best_probabilities],
                axes=[2],
                keepdims=0,
            ),
        ]
    )
    del graph.output[:]
    graph.output.extend(
        [
            helper.make_tensor_value_info(best_ids, onnx.TensorProto.INT64, steps),
            helper.make_tensor_value_info(best_probabilities, onnx.TensorProto.FLOAT, steps),
        ]
    )


def save_version(model: onnx.ModelProto, repository: Path, name: str, version: int) -> Path:
    """Write ``model`` as ``<repository>/<name>/<version>/model.onnx``; returns that path."""
    target = repository / name / str(version) / "model.onnx"
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(target))
    return target


def character_set(model: onnx.ModelProto) -> str:
    """The recognizer's character set, one per line, as rapidocr stores it in the metadata."""
    for prop in model.metadata_props:
        if prop.key == "character":
            return prop.value
    raise ValueError("the recognition model carries no 'character' metadata")


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def check_detection(original: Path, exported: Path) -> None:
    """The renamed detector must compute exactly what the original does."""
    page = np.random.default_rng(0).uniform(-1, 1, (1, 3, 96, 128)).astype(np.float32)
    (expected,) = _session(original).run(None, {"x": page})
    (actual,) = _session(exported).run(None, {DETECTION_INPUT: page})
    np.testing.assert_array_equal(actual, expected)


def check_recognition(original: Path, exported: Path) -> None:
    """The exported recognizer's ids/probabilities must be the original's argmax/max."""
    lines = np.random.default_rng(0).uniform(-1, 1, (2, 3, LINE_HEIGHT, 160)).astype(np.float32)
    (distribution,) = _session(original).run(None, {"x": lines})
    ids, probabilities = _session(exported).run(None, {RECOGNITION_INPUT: lines})
    np.testing.assert_array_equal(ids, distribution.argmax(axis=2))
    np.testing.assert_array_equal(probabilities, distribution.max(axis=2))


def export_detection(repository: Path, version: int = 1) -> Path:
    source = rapidocr_model(DETECTION_SOURCE)
    model = onnx.load(str(source))
    rename_tensors(model.graph, TENSOR_NAMES[DETECTION_MODEL])
    target = save_version(model, repository, DETECTION_MODEL, version)
    check_detection(source, target)
    write_model_card(repository / DETECTION_MODEL, detection_card())
    return target


def export_recognition(repository: Path, version: int = 1) -> tuple[Path, Path, int]:
    source = rapidocr_model(RECOGNITION_SOURCE)
    model = onnx.load(str(source))
    rename_tensors(model.graph, TENSOR_NAMES[RECOGNITION_MODEL])
    append_greedy_step(model.graph)
    onnx.checker.check_model(model)
    target = save_version(model, repository, RECOGNITION_MODEL, version)
    check_recognition(source, target)
    characters = character_set(model)
    charset = repository / DECODER_MODEL / str(version) / CHARACTER_SET_FILE
    charset.parent.mkdir(parents=True, exist_ok=True)
    charset.write_text(characters, encoding="utf-8")
    character_count = len(characters.split("\n"))
    write_model_card(repository / RECOGNITION_MODEL, recognition_card(character_count))
    return target, charset, character_count


def build(repository: Path) -> OcrExportReport:
    """Write both models, the character set and the model cards into ``repository``."""
    detection = export_detection(repository)
    recognition, charset, characters = export_recognition(repository)
    return OcrExportReport(detection, recognition, charset, characters)


_SOURCE = f"""## Source
- Package: `rapidocr=={RAPIDOCR_VERSION}` (PyPI), file `rapidocr/models/{{file}}`: PaddleOCR's
  PP-OCRv6 small model converted to ONNX by the RapidAI project. The only det/rec models the wheel
  ships (others would be downloaded at run time, which docserve does not do); its recognizer is
  multilingual (Latin scripts, Chinese, Japanese), which covers English.
- License: Apache-2.0 (PaddleOCR and RapidOCR).
- Reproduce: `docserve export ocr` (weights are not committed)."""


def detection_card() -> str:
    return f"""# {DETECTION_MODEL}

PP-OCR text detector (DB, Differentiable Binarization): for every pixel of a page, the probability
that it lies inside a line of text. Served in the `ocr` ensemble between
`text_detection_preprocess` (decode, resize, normalize) and `ocr_lines` (DB post-processing:
probability map -> line polygons; see `docserve.processing.text_detection`).

## Tensors
| name | type | shape | meaning |
| --- | --- | --- | --- |
| `{DETECTION_INPUT}` | FP32 | [1, 3, H, W] | BGR page, (pixel / 255 - 0.5) / 0.5 |
| `{DETECTION_OUTPUT}` | FP32 | [1, 1, H, W] | probability that each pixel is text (sigmoid) |

## Input sizes
Pages are shrunk to at most 2000 px on the longer side, pages whose shorter side is under 736 px
are enlarged to 736 (rapidocr's defaults; docserve stops enlarging when the longer side reaches
4000 px), and both sides are rounded to multiples of 32.

{_SOURCE.format(file=DETECTION_SOURCE)}
- Changes: graph input/output renamed (`x` -> `{DETECTION_INPUT}`, `fetch_name_0` ->
  `{DETECTION_OUTPUT}`); outputs checked bit-identical to the original with onnxruntime.
"""


def recognition_card(character_count: int) -> str:
    height, width = LINE_HEIGHT, MIN_LINE_WIDTH
    return f"""# {RECOGNITION_MODEL}

PP-OCR text recognizer (CTC head): reads a rectified line image as a sequence of steps (one per
8 pixel columns, rounded up) and returns, per step, the most probable character class and its
probability. `ocr_lines` (a python BLS model) calls it with batches of crops of similar aspect
ratio and does the CTC greedy decoding (`docserve.processing.text_recognition`).

## Tensors
| name | type | shape | meaning |
| --- | --- | --- | --- |
| `{RECOGNITION_INPUT}` | FP32 | [batch, 3, {height}, W] | BGR line crops, (pixel / 255 - 0.5) / 0.5 |
| `{RECOGNITION_OUTPUTS[0]}` | INT64 | [batch, ceil(W / 8)] | most probable class of each step |
| `{RECOGNITION_OUTPUTS[1]}` | FP32 | [batch, ceil(W / 8)] | its softmax probability |

Crops are scaled to height {height} and right-padded with 0 to the batch's width W (>= {width}).
Classes: 0 = CTC blank, i in 1..{character_count} = line i of
`ocr_lines/1/{CHARACTER_SET_FILE}`, {character_count + 1} = space.

## Input sizes
Height {height} (fixed by the model); any width, {width} and up here: a crop keeps its aspect ratio.

{_SOURCE.format(file=RECOGNITION_SOURCE)}
- Changes: input renamed (`x` -> `{RECOGNITION_INPUT}`); the {character_count + 2}-way softmax output is
  reduced in the graph by ArgMax and ReduceMax over the class axis (checked equal to the original's
  argmax/max with onnxruntime), so each line returns 2 numbers per step instead of
  {character_count + 2}. The character set comes from the model's `character` metadata.
"""
