"""Labelled page folders (one sub-folder per document type) as thumbnails, split for validation.

The document classifier learns from folders laid out like ``../shared/data/real_documents``:
``<folder>/<type>/<page>.{png,jpg,tif,pdf}``. Every page goes through the serving path's own
decoding (:func:`decode_page_gray`: EXIF-upright, grayscale, so colour photos look like the
grayscale scans the other types come from) and thumbnail, so the model learns exactly what
Triton feeds it. Images are read at training time and never copied anywhere.

Validation must not share a source with training: when the folder has a ``manifest.csv``
(``file,class,source_repo,source_path,...``), whole sources can be held out (the softmatic
receipts) and the others are split by document id within each source and original class;
without one, each type is split at random (seeded).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from docserve.contract.document_types import DOCUMENT_TYPES
from docserve.processing.page_image import decode_page_gray
from docserve.processing.page_thumbnail import page_thumbnail

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
PDF_DPI = 100
# Sources that only validate: a receipt source the model never sees tests the colour-photo and
# merchant generalisation, not memory of one scanner.
HELD_OUT_SOURCES = ("softmatic/vision-data",)
VALIDATION_SHARE = 0.3


@dataclass(frozen=True)
class PageFile:
    """One page of a labelled folder: where it is, its type and the group it is split by."""

    path: Path
    label: str
    group: str  # source (and original class): pages of one group are split together
    page_index: int = 0  # the page of a PDF


@dataclass(frozen=True)
class LabelledThumbnails:
    thumbnails: np.ndarray  # uint8 [N, S, S]: ink * 255
    page_sizes: np.ndarray  # int [N, 2]: (height, width) of each page
    labels: np.ndarray  # int64 [N]: index into the label list
    groups: tuple[str, ...]

    def subset(self, indices: np.ndarray) -> LabelledThumbnails:
        return LabelledThumbnails(self.thumbnails[indices], self.page_sizes[indices],
                                  self.labels[indices], tuple(self.groups[i] for i in indices))


def folder_labels(folder: Path) -> tuple[str, ...]:
    """The document types of a labelled folder: its sub-folder names.

    Sorted, except that the synthetic factory's five types keep their historical order (the
    output order of version 1), so a retrain on them changes no consumer's indices.
    """
    labels = tuple(sorted(path.name for path in folder.iterdir() if path.is_dir()))
    if len(labels) < 2:
        raise ValueError(f"{folder}: need at least two sub-folders (one per document type)")
    return DOCUMENT_TYPES if set(labels) == set(DOCUMENT_TYPES) else labels


def page_files(folder: Path, labels: Sequence[str]) -> list[PageFile]:
    """Every page under ``folder/<label>/``, grouped by source when a manifest says it."""
    sources = _manifest_sources(folder)
    files = []
    for label in labels:
        for path in sorted((folder / label).iterdir()):
            group = sources.get(path.relative_to(folder).as_posix(), label)
            if path.suffix.lower() in IMAGE_SUFFIXES:
                files.append(PageFile(path, label, group))
            elif path.suffix.lower() == ".pdf":
                files += [PageFile(path, label, group, index) for index in range(_pdf_pages(path))]
    return files


def split_by_source(files: Sequence[PageFile], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and validation pages: held-out sources whole, others by share."""
    rng = np.random.default_rng(seed)
    train, validation = [], []
    for group in sorted({file.group for file in files}):
        members = np.array([i for i, file in enumerate(files) if file.group == group])
        if group.split(":")[0] in HELD_OUT_SOURCES:
            validation += list(members)
            continue
        members = rng.permutation(members)
        cut = max(1, round(len(members) * VALIDATION_SHARE)) if len(members) > 1 else 0
        validation += list(members[:cut])
        train += list(members[cut:])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(validation, dtype=np.int64))


def thumbnails(files: Sequence[PageFile], labels: Sequence[str],
               workers: int = 2) -> LabelledThumbnails:
    """The pages' serving-path thumbnails (uint8), decoded in ``workers`` processes."""
    with ProcessPoolExecutor(workers) as pool:
        images, sizes = zip(*pool.map(_thumbnail, files, chunksize=8), strict=True)
    return LabelledThumbnails(
        np.stack(images), np.array(sizes),
        np.array([labels.index(file.label) for file in files], dtype=np.int64),
        tuple(file.group for file in files),
    )


def page_gray(file: PageFile) -> np.ndarray:
    """The page as the vision models see it: uint8 ``[H, W]`` grayscale."""
    if file.path.suffix.lower() != ".pdf":
        return decode_page_gray(file.path.read_bytes())
    import pypdfium2

    pdf = pypdfium2.PdfDocument(file.path)
    try:
        image = pdf[file.page_index].render(scale=PDF_DPI / 72).to_pil()
    finally:
        pdf.close()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return decode_page_gray(buffer.getvalue())


def _thumbnail(file: PageFile) -> tuple[np.ndarray, tuple[int, int]]:
    page = page_gray(file)
    return np.round(page_thumbnail(page)[0] * 255).astype(np.uint8), page.shape


def _pdf_pages(path: Path) -> int:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(path)
    try:
        return len(pdf)
    finally:
        pdf.close()


def _manifest_sources(folder: Path) -> dict[str, str]:
    """``file -> "source_repo:original class"`` from the folder's manifest, if it has one."""
    manifest = folder / "manifest.csv"
    if not manifest.exists():
        return {}
    with manifest.open(encoding="utf-8", newline="") as handle:
        return {row["file"]: f"{row['source_repo']}:{_original_class(row)}"
                for row in csv.DictReader(handle)}


def _original_class(row: dict[str, str]) -> str:
    """RVL-CDIP pages keep their original class in the path (``docs-sm/<class>/<id>.jpg``)."""
    parts = row["source_path"].split("/")
    return parts[-2] if parts[0] == "docs-sm" else row["class"]
