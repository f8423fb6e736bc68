"""Checkboxes and the signature tied to the printed text that names them.

A checkbox alone says "ticked"; a person wants "Marital status: married". This module reads the
page's words around each box, in the upright (straightened) frame where rows are horizontal:

- each box's **option text** is the run of words right of it on its row (left of it when nothing
  is on the right, as in "Yes [ ]"), up to a wide gap or the next box;
- boxes that answer **one question** form a group: boxes on one row until a new question starts
  (a word ending in ``:`` or ``?`` between them), and boxes stacked in one column;
- a group's **key** is the question left of its first box on the row (ending in ``:``/``?`` or
  not), else the line just above a column; a lone box with no question is its own key;
- the **signature** gets the label nearest to it ("Signature", "(Signature)", "Signed", "Sign
  here") and the date field beside that label, when there is one. A label with no signature
  found is still reported (``present = False``): an empty signature field is information.

All geometry is relative to the box (or word) height, so it holds at any resolution. Everything
here works on axis-aligned bounds ``(x0, y0, x1, y1)`` in the upright frame; mapping back onto
the page as sent is the page assembly's job, as for every other part.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Option text: the first word may start this many box heights right (or left) of the box,
# and the run continues over gaps up to WORD_GAP word heights.
OPTION_REACH = 2.5
WORD_GAP = 1.2
# Two boxes share a row when their centres are within ROW_TOLERANCE box heights vertically;
# stacked boxes share a column when their left edges are within COLUMN_TOLERANCE box heights
# and the vertical step between them is at most COLUMN_STEP box heights.
ROW_TOLERANCE = 0.6
COLUMN_TOLERANCE = 1.0
COLUMN_STEP = 3.0
# A question above a column of boxes: its bottom at most this many box heights above the top box.
HEADING_REACH = 3.0
# A signature's date label on the same row as its label at most DATE_ROW_REACH label heights
# away ("Signature ______  Date ______"), or on the rows just above or below it.
DATE_ROW_REACH = 30.0
DATE_ROWS_REACH = 3.0
QUESTION_END = re.compile(r"[:?]$")
SIGNATURE_LABEL = re.compile(r"^\(?(signature|signed|sign)\b", re.IGNORECASE)
DATE_LABEL = re.compile(r"^\(?date\b", re.IGNORECASE)
DATE_VALUE = re.compile(r"\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}"  # 5/12/96, 1996-12-05
                        r"|\d{1,2}\s+\w{3,9}\.?\s+\d{2,4}"  # 5 Dec 1996
                        r"|\w{3,9}\.?\s+\d{1,2},?\s+\d{2,4}")  # Dec. 5, 1996
MAX_LABEL_WORDS = 4  # a signature label is short; "sign" inside a sentence is not a label

Bounds = tuple[float, float, float, float]


@dataclass(frozen=True)
class PageWord:
    """One OCR word in the upright frame; ``index`` is its place in the page's word list."""

    index: int
    text: str
    box: Bounds
    confidence: float

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def centre_y(self) -> float:
        return (self.box[1] + self.box[3]) / 2


@dataclass(frozen=True)
class TextSpan:
    """Words read as one piece of text: their joined text, joint bounds, lowest confidence, and
    which words of the page they are."""

    text: str
    box: Bounds
    confidence: float
    words: frozenset[int]

    @classmethod
    def of(cls, words: Sequence[PageWord]) -> TextSpan:
        ordered = sorted(words, key=lambda word: word.box[0])
        bounds = np.array([word.box for word in ordered])
        return cls(" ".join(word.text for word in ordered),
                   (float(bounds[:, 0].min()), float(bounds[:, 1].min()),
                    float(bounds[:, 2].max()), float(bounds[:, 3].max())),
                   float(min(word.confidence for word in ordered)),
                   frozenset(word.index for word in ordered))


@dataclass(frozen=True)
class CheckboxOption:
    text: str | None  # None: no words name the box
    label: TextSpan | None
    checked: bool
    box: Bounds
    confidence: float  # the checkbox model's confidence in ``checked``


@dataclass(frozen=True)
class CheckboxField:
    key: TextSpan | None
    options: tuple[CheckboxOption, ...]

    @property
    def value(self) -> str | None:
        """The checked options' texts joined with ", ", or None when none is checked."""
        chosen = [option.text or "" for option in self.options if option.checked]
        return ", ".join(chosen) if chosen else None

    @property
    def confidence(self) -> float:
        return min(option.confidence for option in self.options)


@dataclass(frozen=True)
class SignatureField:
    key: TextSpan
    present: bool
    confidence: float  # the signature model's score (of presence, or of absence)
    date: TextSpan | None  # the date written beside the label, when there is one


def checkbox_fields(words: Sequence[PageWord], boxes: np.ndarray, checked: np.ndarray,
                    confidence: np.ndarray) -> list[CheckboxField]:
    """Every checkbox, in a group with its key and its option text, in reading order."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if not len(boxes):
        return []
    options = [_option(words, boxes, index, bool(checked[index]), float(confidence[index]))
               for index in range(len(boxes))]
    return [_field(words, boxes, group, options) for group in _groups(words, boxes)]


def signature_fields(words: Sequence[PageWord], present: bool, score: float,
                     box: Bounds | None) -> list[SignatureField]:
    """The signature's label (or every signature label, when no signature was found)."""
    if present and box is not None:
        # Words read in the signature's box are its ink ("Ola Costa"), unless they name it.
        words = [word for word in words
                 if not _inside(word.box, box) or SIGNATURE_LABEL.search(word.text)]
    labels = [word for word in words if _is_signature_label(word, words)]
    if not labels:
        return []
    if present and box is not None:
        # The model finds one signature per page: the label nearest to it is the field it signs.
        nearest = min(labels, key=lambda label: _distance(label.box, box))
        return [SignatureField(_label_span(nearest, words), True, score, _date_beside(nearest, words))]
    return [SignatureField(_label_span(label, words), False, 1.0 - score, _date_beside(label, words))
            for label in labels]


# -- checkboxes -------------------------------------------------------------------------------

def _option(words: Sequence[PageWord], boxes: np.ndarray, index: int, checked: bool,
            confidence: float) -> CheckboxOption:
    box = boxes[index]
    label = _run(words, boxes, box, direction=1) or _run(words, boxes, box, direction=-1)
    span = TextSpan.of(label) if label else None
    return CheckboxOption(span.text if span else None, span, checked, _bounds(box), confidence)


def _run(words: Sequence[PageWord], boxes: np.ndarray, box: np.ndarray,
         direction: int) -> list[PageWord]:
    """Words on the box's row going right (``direction`` 1) or left (-1) from it, until a wide
    gap, another box, or (going left) the end of a question."""
    height = box[3] - box[1]
    row = sorted((word for word in _on_row(words, box) if _beyond(word.box, box, direction)),
                 key=lambda word: direction * word.box[0])
    run: list[PageWord] = []
    edge = box[2] if direction > 0 else box[0]
    reach = OPTION_REACH * height
    for word in row:
        near = word.box[0] if direction > 0 else word.box[2]
        if abs(near - edge) > reach or _box_between(boxes, box, edge, near):
            break
        if direction < 0 and QUESTION_END.search(word.text):
            break  # "Sex: [ ] M" -- "Sex:" is the question, not the option
        run.append(word)
        edge = word.box[2] if direction > 0 else word.box[0]
        reach = WORD_GAP * max(word.height, height)
    return run


def _on_row(words: Sequence[PageWord], box: np.ndarray) -> list[PageWord]:
    return [word for word in words
            if abs(word.centre_y - _centre_y(box)) <= ROW_TOLERANCE * max(_height(box), word.height)]


def _beyond(word: Bounds, box: np.ndarray, direction: int) -> bool:
    """Whether a word lies right (left) of the box. OCR often reads a box and the text beside it
    as one line, so the word may start (end) on the box itself: it counts when it reaches past it."""
    slack = 0.2 * _height(box)
    if direction > 0:
        return word[2] > box[2] + slack and word[0] >= box[0] - slack
    return word[0] < box[0] - slack and word[2] <= box[2] + slack


def _box_between(boxes: np.ndarray, box: np.ndarray, start: float, end: float) -> bool:
    low, high = min(start, end), max(start, end)
    others = boxes[(np.abs((boxes[:, 1] + boxes[:, 3]) / 2 - _centre_y(box)) <= ROW_TOLERANCE * _height(box))
                   & ~np.all(boxes == box, axis=1)]
    return bool(np.any((others[:, 0] >= low) & (others[:, 2] <= high)))


def _groups(words: Sequence[PageWord], boxes: np.ndarray) -> list[list[int]]:
    """Boxes answering one question: row runs (split where a question starts), then lone boxes
    stacked in one column."""
    groups = [run for row in _rows(boxes) for run in _split_at_questions(words, boxes, row)]
    merged: list[list[int]] = []
    for group in sorted(groups, key=lambda members: (boxes[members[0], 1], boxes[members[0], 0])):
        column = next((other for other in merged if _continues_column(boxes, other, group, words)), None)
        if column is None:
            merged.append(list(group))
        else:
            column.extend(group)
    return sorted(merged, key=lambda members: (boxes[members[0], 1], boxes[members[0], 0]))


def _rows(boxes: np.ndarray) -> list[list[int]]:
    order = np.lexsort((boxes[:, 0], (boxes[:, 1] + boxes[:, 3]) / 2))
    rows: list[list[int]] = []
    for index in order:
        centre, height = _centre_y(boxes[index]), _height(boxes[index])
        row = next((row for row in rows
                    if abs(_centre_y(boxes[row[0]]) - centre) <= ROW_TOLERANCE * height), None)
        if row is None:
            rows.append([int(index)])
        else:
            row.append(int(index))
    return [sorted(row, key=lambda index: boxes[index, 0]) for row in rows]


def _split_at_questions(words: Sequence[PageWord], boxes: np.ndarray, row: list[int]) -> list[list[int]]:
    runs = [[row[0]]]
    for before, after in itertools.pairwise(row):
        between = [word for word in _on_row(words, boxes[before])
                   if word.box[0] >= boxes[before, 2] and word.box[2] <= boxes[after, 0]]
        if any(QUESTION_END.search(word.text) for word in between):
            runs.append([after])
        else:
            runs[-1].append(after)
    return runs


def _continues_column(boxes: np.ndarray, column: list[int], group: list[int],
                      words: Sequence[PageWord]) -> bool:
    """A lone box directly under the last box of a lone box or a column, neither with a question
    of its own on its row (those are separate yes/no fields)."""
    if len(group) != 1 or _is_row(boxes, column):
        return False
    last, box = boxes[column[-1]], boxes[group[0]]
    height = max(last[3] - last[1], box[3] - box[1])
    step = box[1] - last[1]
    return (abs(box[0] - last[0]) <= COLUMN_TOLERANCE * height and 0 < step <= COLUMN_STEP * height
            and _question_left(words, boxes, group[0]) is None
            and _question_left(words, boxes, column[0]) is None)


def _is_row(boxes: np.ndarray, members: list[int]) -> bool:
    if len(members) < 2:
        return False
    first, second = boxes[members[0]], boxes[members[1]]
    return abs(_centre_y(first) - _centre_y(second)) <= ROW_TOLERANCE * _height(first)


def _field(words: Sequence[PageWord], boxes: np.ndarray, group: list[int],
           options: list[CheckboxOption]) -> CheckboxField:
    members = tuple(options[index] for index in group)
    key = _question_left(words, boxes, group[0])
    if key is None and len(group) > 1:
        key = _heading_above(words, boxes, group)
    if key is None and len(group) == 1:
        key = members[0].label
    return CheckboxField(key, members)


def _question_left(words: Sequence[PageWord], boxes: np.ndarray, index: int) -> TextSpan | None:
    """The question on the box's row, left of it: the words before the box's own option text,
    back to a wide gap, another box, or the start of the row."""
    box = boxes[index]
    option = _run(words, boxes, box, direction=1)
    left = sorted((word for word in _on_row(words, box) if word.box[2] <= box[0] + 0.2 * (box[3] - box[1])),
                  key=lambda word: -word.box[0])
    if not left:
        return None
    if not option and not QUESTION_END.search(left[0].text):
        return None  # "Yes [ ]": the words on the left are the option, not a question
    run = [left[0]]
    for word in left[1:]:
        if run[-1].box[0] - word.box[2] > WORD_GAP * max(word.height, run[-1].height) \
                or _box_between(boxes, box, word.box[2], run[-1].box[0]):
            break
        run.append(word)
    if _box_between(boxes, box, run[0].box[2], box[0]):
        return None
    return TextSpan.of(run)


def _heading_above(words: Sequence[PageWord], boxes: np.ndarray, group: list[int]) -> TextSpan | None:
    """The line just above the group's top box that reaches over the group's left edge."""
    top = boxes[min(group, key=lambda index: boxes[index, 1])]
    height = top[3] - top[1]
    left = min(boxes[index, 0] for index in group)
    above = [word for word in words
             if 0 <= top[1] - word.box[3] <= HEADING_REACH * height and word.box[2] >= left - 10 * height]
    if not above:
        return None
    nearest = max(above, key=lambda word: word.box[3])
    line = [word for word in above if abs(word.centre_y - nearest.centre_y) <= ROW_TOLERANCE * nearest.height]
    return TextSpan.of(line)


# -- signature ---------------------------------------------------------------------------------

def _is_signature_label(word: PageWord, words: Sequence[PageWord]) -> bool:
    if not SIGNATURE_LABEL.search(word.text):
        return False
    line = _line_of(word, words)
    return len(line) <= MAX_LABEL_WORDS or word.text.rstrip().endswith(":") or word.text.startswith("(")


def _line_of(word: PageWord, words: Sequence[PageWord]) -> list[PageWord]:
    """The word and its neighbours on the row, joined over ordinary word gaps."""
    row = sorted((other for other in words
                  if abs(other.centre_y - word.centre_y) <= ROW_TOLERANCE * max(word.height, other.height)),
                 key=lambda other: other.box[0])
    position = row.index(word)
    start = end = position
    while start > 0 and row[start].box[0] - row[start - 1].box[2] <= WORD_GAP * word.height:
        start -= 1
    while end < len(row) - 1 and row[end + 1].box[0] - row[end].box[2] <= WORD_GAP * word.height:
        end += 1
    return row[start:end + 1]


def _label_span(word: PageWord, words: Sequence[PageWord]) -> TextSpan:
    line = _line_of(word, words)
    short = len(line) <= MAX_LABEL_WORDS
    return TextSpan.of(line if short else [word])


def _date_beside(label: PageWord, words: Sequence[PageWord]) -> TextSpan | None:
    """The value of a "Date" label on the signature label's row or just below/above it."""
    def near(word: PageWord) -> bool:
        same_row = abs(word.centre_y - label.centre_y) <= ROW_TOLERANCE * label.height
        reach = (DATE_ROW_REACH if same_row else DATE_ROWS_REACH) * label.height
        return _distance(word.box, label.box) <= reach

    dates = [word for word in words if DATE_LABEL.search(word.text) and near(word)]
    for date_label in sorted(dates, key=lambda word: _distance(word.box, label.box)):
        written = DATE_VALUE.search(date_label.text)
        if written:  # "Date:5/12/96", read as one word
            return TextSpan(written.group(), date_label.box, date_label.confidence,
                            frozenset({date_label.index}))
        right = sorted((word for word in _on_row(words, np.array(date_label.box))
                        if word.box[0] >= date_label.box[2] and word is not date_label),
                       key=lambda word: word.box[0])
        run: list[PageWord] = []
        for word in right[:4]:
            if run and word.box[0] - run[-1].box[2] > WORD_GAP * word.height:
                break
            run.append(word)
        if run and DATE_VALUE.search(" ".join(word.text for word in run)):
            return TextSpan.of(run)
    return None


def _inside(word: Bounds, box: Bounds) -> bool:
    """Whether the word's centre lies in the box."""
    x, y = (word[0] + word[2]) / 2, (word[1] + word[3]) / 2
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def _distance(box: Bounds | np.ndarray, other: Bounds | np.ndarray) -> float:
    """Gap between two boxes (0 when they overlap)."""
    dx = max(other[0] - box[2], box[0] - other[2], 0.0)
    dy = max(other[1] - box[3], box[1] - other[3], 0.0)
    return float(np.hypot(dx, dy))


def _centre_y(box: Bounds | np.ndarray) -> float:
    return float(box[1] + box[3]) / 2


def _height(box: Bounds | np.ndarray) -> float:
    return float(box[3] - box[1])


def _bounds(box: np.ndarray) -> Bounds:
    return (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
