"""Model card text for the synthetic-trained vision models (``model_repository/<model>/README.md``).

The document classifier, trained on real pages, has its own card (:mod:`.classifier_card`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from docserve.processing.checkboxes import CROP_SIZE, STATE_LABELS
from docserve.processing.page_thumbnail import THUMBNAIL_SIZE
from docserve.processing.signature_heatmap import HEATMAP_SIZE, HEATMAP_STRIDE

if TYPE_CHECKING:
    from docserve.export.vision.build import BuildReport, TrainedModel


@dataclass(frozen=True)
class CardText:
    title: str
    tensors: str  # Markdown table rows: | name | type | shape | meaning |
    method: str
    serving: str
    limits: str


# Measured on real pages after the last rebuild; rewritten by hand when they are measured again.
REAL_PAGES_NOTE = (
    "Real pages (`docserve export evaluate --real ../shared/data/real_documents --validation-only "
    "--skew-pages 20`: 20 pages of the classifier's validation split, never used to choose "
    "anything, each turned by 2 known angles in [-15, 15] deg; error = |estimate of the turned "
    "page - estimate of the page as scanned - turn|, which takes out the page's own skew; every "
    "version and the `deskew` package (min_deviation 0.25) on the same pages, same run): "
    "version 1 MAE 2.114 deg, p95 15.94, max 37.7; version 2 MAE 0.076, p95 0.276, max 0.52; "
    "the `deskew` package MAE 0.980, p95 4.59, max 14.9. Version 1's error was almost all two "
    "pages (a receipt photographed with its borders, a file folder with vertical text) read "
    "near the +-16 deg edge of the grid; version 2 meets the target (MAE <= 0.10) on these "
    "pages by 0.024 deg. On 60 validation pages x 2 turns (`--skew-pages 60`, same measure): "
    "version 1 MAE 0.761, p95 0.290, max 40.2; version 2 MAE 0.054, p95 0.159, max 0.52; the "
    "`deskew` package MAE 0.642, p95 1.025, max 25.2. Its remaining error is the scorer's "
    "precision on the 512 px thumbnail (RVL-CDIP pages are 1000 px tall, so a thumbnail "
    "pixel is two page pixels). "
    "Time per page, one thread, same run: version 2's graph 35 ms of CPU, version 1's 127 ms "
    "(onnxruntime), the thumbnail 9 ms more; under the load of that run (2 cores shared by "
    "several jobs) the evaluation's wall clock read 88 ms per page for version 2 (thumbnail + "
    "model), 348 for version 1 and 505 for the `deskew` package. On 100 held-out synthetic "
    "pages (seeds from 10000000, one run): version 1 MAE 0.085 deg, p95 0.206; version 2 MAE "
    "0.089, p95 0.217 (the parabola and the cap cost 0.004 there), 140 vs 37 ms of CPU."
)

THUMBNAIL_ROW = (
    f"| `page_thumbnail` | FP32 | [batch, 1, {THUMBNAIL_SIZE}, {THUMBNAIL_SIZE}] | ink (1 = black) of "
    "the page, aspect kept, "
    "centred; `docserve.processing.page_thumbnail.page_thumbnail` |"
)

CARDS = {
    "deskew": CardText(
        "Estimates the skew of a page in [-15, +15] degrees (counter-clockwise positive).",
        THUMBNAIL_ROW + "\n| `skew_degrees` | FP32 | [batch, 1] | estimated skew angle |",
        "Versions: 1 as trained; 2 (served, `docserve.export.vision.deskew_versions`) is "
        "version 1's trained scorer, weight for weight, behind a gated readout; 1 stays for "
        "rollback. A fixed Radon layer (row profiles of 64 vertical strips shifted along 129 "
        "angles, -16..16 deg every 0.25 deg; version 2 computes version 1's bilinear "
        "`GridSample` as one `Gather` + one batched `MatMul`, the thumbnail and its transpose "
        "(column profiles: left margins, table rules) in one pass, 3.6x faster in "
        "onnxruntime) and fixed alignment features (energy of profile differences at lags 1, "
        "2, 4 and of the profile) feed a trained "
        "3-layer 1-D CNN (32 channels) that scores every angle from the 8 feature curves. "
        "Columns give an independent second reading: the scan's perspective tilts rows and "
        "columns independently, while the skew turns both alike. On 2000 validation pages (seeds "
        "5000000..5001999, disjoint from training and held-out; `python -m "
        "docserve.export.vision.validation`) rows alone gave MAE 0.199 / p95 0.469 deg (the "
        "former model), rows and columns MAE 0.135 / p95 0.294 (this one). Trained on the "
        "softmax-weighted angle over all 129 angles; served (in the ONNX graph) with the "
        "softmax restricted to the best grid angle and its two neighbours, the readout with "
        "the lowest validation p95 among the full softmax, a parabola through the peak and "
        "1-8 neighbours on each side (p95 0.294-0.296: any of them would do). "
        "Averaging the estimate with that of the mirrored "
        "page (opposite angle) gained < 0.002 deg in development runs and was left out. Loss: smooth L1 on "
        "the angle; mirror augmentation (mirrored page, opposite angle). "
        "Version 2 reads the angle as the vertex of the parabola through the best logit and "
        "its two neighbours (on the real training pages below MAE 0.056 deg, the softmax over "
        "the three 0.061, over all 129 angles 0.072; on synthetic validation pages all alike). "
        "Version 2's gate (`GatedSkewEstimator`), for real pages unlike the synthetic ones: "
        "features capped at 10 x their mean over angles (straight scan or photo edges reach "
        "50x, which the scorer never saw and answered with low logits everywhere and an angle "
        "at the grid edge); when the best logit is < 3, the angle is read from the raw row + "
        "column lag-1 sharpness instead (weights sharpness^50 over the best angle and its "
        "neighbours); when that has no peak of >= 6x its mean (blank pages, scattered dots), "
        "the skew is 0 (no reliable skew: the page is left as it is). The three numbers were "
        "chosen on 60 real pages of the classifier's training split turned by 2 known angles "
        "each (MAE 0.068 uncapped, 0.061 capped at 10; caps 8 and 12 let one page err by 1.4 "
        "deg). Baseline in the "
        "table: the `deskew` package (Hough transform on Canny edges) with 0.1 deg resolution "
        "and a +-16 deg range, on the full-resolution page.",
        "`page_decode` -> `page_thumbnail` -> `deskew` -> `deskew_apply` (rotates the page back "
        "with `docserve.processing.page_rotation.deskew_page`).",
        "The scorer is trained on synthetic scans only (real pages carry no skew label; they "
        "chose version 2's gate). Angles beyond +-16 degrees are clipped to the grid; "
        "pages upside down or rotated by 90 degrees are out of scope. The synthetic "
        "perspective (corners moved by up to 0.4%) tilts rows and columns by a few tenths of "
        "a degree, which reading rows and columns together only reduces; pages with little text (short "
        "receipts) have the largest errors. A uniform gray page (no ink but its edges against "
        "the letterbox) reads about -1 deg in both versions: the scorer is confident there. "
        + REAL_PAGES_NOTE,
    ),
    "checkbox": CardText(
        f"Says whether a candidate crop is {', '.join(STATE_LABELS)}.",
        f"| `checkbox_crops` | FP32 | [batch, 1, {CROP_SIZE}, {CROP_SIZE}] | ink crops of candidates "
        "with 25% context (`docserve.processing.checkboxes.crop_candidates`) |\n"
        f"| `checkbox_state_probabilities` | FP32 | [batch, {len(STATE_LABELS)}] | softmax over "
        f"{', '.join(STATE_LABELS)} (this order) |",
        "Candidates come from a classical finder (adaptive threshold, contours of 12-48 px "
        "roughly square outlines, de-duplicated), which is size- and count-agnostic; the "
        "network (3 conv + max-pool blocks, 2 linear layers) is trained on the finder's "
        "candidates of the training pages labelled by matching the ground truth (IoU >= 0.5) "
        "plus the true boxes. Cross-entropy, 4 epochs.",
        "`page_decode` -> `checkbox_candidates` (boxes + crops) -> `checkbox`; "
        "`docserve.processing.checkboxes.decide` keeps boxes whose most probable state is "
        "not `not_a_checkbox`.",
        "Checkboxes between ~2 and 8 mm at 150 dpi (12-48 px); round radio buttons and boxes "
        "whose outline touches other ink are not proposed by the finder. Ticks are synthetic "
        "(check, cross, fill).",
    ),
    "signature": CardText(
        "Finds a handwritten signature on a page: presence, score and box.",
        THUMBNAIL_ROW + f"\n| `signature_heatmap` | FP32 | [batch, 1, {HEATMAP_SIZE}, {HEATMAP_SIZE}] | "
        f"probability that each {HEATMAP_STRIDE}x{HEATMAP_STRIDE} thumbnail cell lies in a signature |",
        "Fully convolutional: two stride-2 conv blocks then five dilated conv blocks "
        "(dilations 1-16, ~250 px view: enough to see the signature line and its label), "
        "batch-norm + ReLU, 1x1 conv, sigmoid. Trained on 256 px crops (half around the "
        "signature) with cross-entropy + Dice against the signature polygon's cell coverage. "
        "`docserve.processing.signature_heatmap.read_heatmap`: present if the map's "
        "maximum is >= 0.5; the signature is the region of cells >= 0.35 holding the most "
        "probability mass (plus a one-cell rim), and its box bounds the rectangle with that "
        "region's mass-weighted centre and covariance (a side of length L has variance "
        "L^2/12), turned with the region's main axis. Chosen on 2000 validation pages (seeds "
        "5000000..5001999, 562 signed; disjoint from training and held-out): the moment box "
        "and 3200 instead of 1600 training pages together raised the share of signed pages "
        "with box IoU >= 0.5 from 98.2% (mean IoU 0.784; the former box: where the upsampled "
        "map crosses 0.375) to 99.1% (0.814) in development runs; 3200 pages with the former "
        "box gave 98.6% (0.801), 24 instead of 16 channels gave no gain. Thresholds: "
        "`python -m docserve.export.vision.validation` sweeps both on the committed model "
        "(highest share of box IoU >= 0.5 among settings with presence accuracy >= 0.98, ties "
        "to the higher mean IoU): region level 0.35 (box IoU >= 0.5 on 98.9% of the signed "
        "validation pages, mean IoU 0.810, presence accuracy 0.997; 98.8% at 0.375); the "
        "presence threshold made no difference between 0.3 and 0.7 (kept at 0.5).",
        "`page_decode` -> `page_thumbnail` -> `signature` -> `signature_postprocess` "
        "(present, score, box in page pixels).",
        "One signature per page (the most confident region). Synthetic signatures are "
        "handwriting fonts and random pen strokes; initials or stamps may be missed, and "
        "handwriting elsewhere on a page can be mistaken for a signature. The heatmap's 4 px "
        "cells (about 13 page pixels at 150 dpi) limit the box of very flat signatures.",
    ),
}


def model_card(model: TrainedModel, report: BuildReport) -> str:
    card = CARDS[model.contract.model]
    export = model.export
    return f"""# {model.contract.model}

{card.title}
Trained by `docserve export models` (`docserve.export.vision`), served by Triton's
`onnxruntime` backend with dynamic batching.

## Tensors
| name | type | shape | meaning |
| --- | --- | --- | --- |
{card.tensors}

## Model
{card.method}

In Triton: {card.serving}

## Training data
{model.training_pages} synthetic scanned pages from `docserve.export.documents` (seeds
0..{model.training_pages - 1}; 5 document types; print and handwriting Debian fonts; skew in
[-15, 15] deg, slight perspective, blur, noise, JPEG, uneven light, stamps, streaks),
{model.training_examples} training examples for this model. Rendering the
{report.rendered_pages} training pages of the three models took {report.data_seconds:.0f} s,
training this model {model.seconds:.0f} s, all three models {report.training_seconds:.0f} s in
total, on 2 CPU cores (torch threads = 2).

## Held-out metrics (all four models, same run, through shared processing + onnxruntime)
{report.metrics.table()}

## Export check
ONNX opset {export.opset}, `onnx.checker` full check passed, dynamic batch axis; max abs diff
onnxruntime vs torch on training samples: {export.max_abs_diff:.2e}.
File size {export.size_bytes / 1024:.0f} KiB.

## Known limits
{card.limits}
"""
