"""Word boxes of docserve's OCR against forms annotated word by word (FUNSD's format).

Each page goes through the in-process ``ocr`` pipeline (orientation, detection, recognition,
the CTC word split, page assembly: what the served pipeline returns, without the server). Its
words are matched one to one with the annotated words, greedily by IoU of their axis-aligned
bounds (highest first, IoU >= 0.5), and it prints:
  * detection: the share of annotated words matched (recall) and of OCR words matched (precision);
  * text: the share of matched pairs whose texts agree, exactly and normalized (Unicode NFKC,
    case folded), and the share of annotated words found with their text (end to end);
  * confidence: how well the word confidence tells a misread word from a word read right (AUROC).

    python bench/word_boxes.py DIR [--pages N]

DIR holds ``images/<id>.png`` and ``annotations/<id>.json`` (``form[].words[]`` with ``box``
[x0, y0, x1, y1] and ``text``). FUNSD is for research only: it is read here, never copied.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.contract.page_result import PageResult
from docserve.export.reference_pipelines import ReferencePipelines
from docserve.processing.checkboxes import box_iou

MIN_IOU = 0.5


@dataclass
class Tally:
    truth_words: int = 0
    read_words: int = 0
    matched: int = 0
    same_text: int = 0
    same_normalized: int = 0
    confidences: list[float] = field(default_factory=list)  # of the matched OCR words
    right: list[bool] = field(default_factory=list)  # their normalized text agrees

    def add(self, truth: list[tuple[np.ndarray, str]], read: list[tuple[np.ndarray, str, float]]) -> None:
        self.truth_words += len(truth)
        self.read_words += len(read)
        for truth_index, read_index in _matches([box for box, _ in truth], [box for box, _, _ in read]):
            truth_text, (_, read_text, confidence) = truth[truth_index][1], read[read_index]
            agrees = normalized(truth_text) == normalized(read_text)
            self.matched += 1
            self.same_text += truth_text == read_text
            self.same_normalized += agrees
            self.confidences.append(confidence)
            self.right.append(agrees)

    def table(self) -> str:
        rows = [
            ("annotated words matched by an OCR word (IoU >= 0.5)", self.matched / self.truth_words),
            ("OCR words matching an annotated word", self.matched / self.read_words),
            ("matched pairs with the same text", self.same_text / self.matched),
            ("matched pairs with the same text, normalized", self.same_normalized / self.matched),
            ("annotated words found with their text (normalized)", self.same_normalized / self.truth_words),
        ]
        lines = ["| measure | % |", "| --- | ---: |"]
        lines += [f"| {name} | {100 * value:.1f} |" for name, value in rows]
        separation = auroc(self.confidences, self.right)
        lines.append(f"| word confidence AUROC (misread vs read right) | {separation:.3f} |")
        return "\n".join(lines)


def normalized(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _matches(truth: list[np.ndarray], read: list[np.ndarray]) -> list[tuple[int, int]]:
    """One-to-one pairs ``(truth, read)`` of IoU >= MIN_IOU, the most overlapping first."""
    if not truth or not read:
        return []
    overlaps = box_iou(np.array(truth, dtype=np.float64), np.array(read, dtype=np.float64))
    pairs, used_truth, used_read = [], set(), set()
    for flat in np.argsort(-overlaps, axis=None):
        truth_index, read_index = np.unravel_index(flat, overlaps.shape)
        if overlaps[truth_index, read_index] < MIN_IOU:
            break
        if truth_index not in used_truth and read_index not in used_read:
            pairs.append((int(truth_index), int(read_index)))
            used_truth.add(truth_index)
            used_read.add(read_index)
    return pairs


def auroc(scores: list[float], positive: list[bool]) -> float:
    """Probability that a word read right scores above a misread one (ties count half)."""
    scores_array, labels = np.asarray(scores), np.asarray(positive, dtype=bool)
    right, wrong = scores_array[labels], scores_array[~labels]
    if not right.size or not wrong.size:
        return float("nan")
    greater = (right[:, None] > wrong[None, :]).mean()
    ties = (right[:, None] == wrong[None, :]).mean()
    return float(greater + ties / 2)


def truth_words(annotation: Path) -> list[tuple[np.ndarray, str]]:
    form = json.loads(annotation.read_text())["form"]
    return [(np.array(word["box"], dtype=np.float64), word["text"])
            for entity in form for word in entity["words"] if word["text"].strip()]


def read_words(result: PageResult) -> list[tuple[np.ndarray, str, float]]:
    words = [word for line in result.text.lines for word in line.words or ()]
    return [(np.concatenate([np.min(word.polygon, axis=0), np.max(word.polygon, axis=0)]),
             word.text, word.confidence) for word in words]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--pages", type=int, default=None, help="the first N pages only")
    arguments = parser.parse_args()
    annotations = sorted((arguments.directory / "annotations").glob("*.json"))[: arguments.pages]
    ocr = ReferencePipelines(PROJECT_ROOT / "model_repository", threads=2).pipeline("ocr")
    tally = Tally()
    for number, annotation in enumerate(annotations, start=1):
        image = arguments.directory / "images" / f"{annotation.stem}.png"
        tally.add(truth_words(annotation), read_words(ocr(image.read_bytes())))
        print(f"\r{number}/{len(annotations)} pages", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    print(f"{len(annotations)} pages, {tally.truth_words} annotated words, {tally.read_words} OCR words\n")
    print(tally.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
