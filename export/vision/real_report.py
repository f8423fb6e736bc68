"""``docserve export evaluate --real DIR``: the served models' metrics on real labelled pages.

Document types per type with the confusion matrix (the newest ``doc_classifier`` version, with
its own label list), and the skew error of every deskew version (the served one marked) beside
the ``deskew`` package on the same real pages turned by known angles (:mod:`.real_evaluation`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from docserve.export.vision.labelled_pages import page_files, page_gray, split_by_source, thumbnails
from docserve.export.vision.real_evaluation import (
    SKEW_HEADER,
    deskew_package_skew,
    model_skew,
    skew_metrics,
    turn_angles,
    type_metrics,
)
from docserve.export.vision.reference import DESKEW, DOC_CLASSIFIER, model_versions, newest_version
from docserve.processing.document_labels import read_labels

SEED = 20261201
TURNS_PER_PAGE = 2


def real_report(repository: Path, folder: Path, validation_only: bool, skew_pages: int,
                with_baseline: bool) -> str:
    classifier_dir = repository / DOC_CLASSIFIER.model
    version = newest_version(classifier_dir)
    labels = read_labels(classifier_dir / str(version))
    present = [label for label in labels if (folder / label).is_dir()]
    unknown = sorted(path.name for path in folder.iterdir()
                     if path.is_dir() and path.name not in labels)
    if unknown:
        raise ValueError(f"{folder}: sub-folders {unknown} are no type of doc_classifier "
                         f"version {version} ({', '.join(labels)})")
    files = page_files(folder, present)
    if validation_only:
        files = [files[i] for i in split_by_source(files, SEED)[1]]
    metrics = type_metrics(classifier_dir / str(version) / "model.onnx",
                           thumbnails(files, labels), labels)
    chosen = np.random.default_rng(SEED).permutation(len(files))[:skew_pages]
    pages = [page_gray(files[i]) for i in sorted(chosen)]
    angles = turn_angles(len(pages), TURNS_PER_PAGE, SEED)
    deskew_dir = repository / DESKEW.model
    served = newest_version(deskew_dir)
    rows = [skew_metrics(f"deskew v{version}" + (" (served)" if version == served else ""),
                         model_skew(deskew_dir / str(version) / "model.onnx"), pages, angles).row()
            for version in model_versions(deskew_dir)]
    if with_baseline:
        rows.append(skew_metrics("`deskew` package", deskew_package_skew, pages, angles).row())
    scope = "validation split (held out by source)" if validation_only else "all pages"
    return (f"\nReal pages from {folder} ({scope}): {metrics.pages}\n\n"
            f"doc_classifier version {version}: accuracy {metrics.accuracy:.4f}\n\n"
            f"{metrics.table()}\n\n"
            f"Skew on {len(pages)} real pages turned by {TURNS_PER_PAGE} known angles each in "
            "[-15, 15] deg (error against the estimate of the page as scanned + the turn)\n\n"
            f"{SKEW_HEADER}\n" + "\n".join(rows))
