"""The key_values model card: what it reads and answers, its data and terms, its measured figures."""

from __future__ import annotations

from docserve.export.key_values.build import HELD_OUT_FORMS, KeyValuesReport
from docserve.export.key_values.training import SEED
from docserve.processing.key_values import (
    HASH_BUCKETS,
    LABELS,
    LINK_THRESHOLD,
    NGRAMS_PER_WORD,
    WORD_FEATURES,
)

PUBLISHED = """| model (ground-truth words / entities) | labelling F1 | linking F1 |
| --- | --- | --- |
| LayoutLMv3-large (pre-trained on 11M pages) | 92.1 | - |
| BROS-base (pre-trained) | 83.1 | 71.5 |
| LayoutXLM-large (pre-trained) | 82.3 | 64.0 |
| doc2graph (graph model, no pre-training) | 78.5 | 56.1 |
| SPADE | 71.6 | 41.3 |"""

# Every run: the same 30 held-out forms, ground-truth words, one CPU thread, seed 27. "Linking"
# is with the annotated entities, threshold 0.5 unless said. Kept here, with the figures, so the
# next attempt starts from them.
TRIED = """| # | change | labelling F1 | linking F1 |
| --- | --- | --- | --- |
| 1 | first model: pair geometry in page fractions (gaps ~0.01), 20 epochs, mean link | 0.572 | 0.563 |
| 2 | same model, entity link = highest word-pair probability, not the mean | 0.572 | 0.626 |
| 3 | pair geometry rescaled (gaps in line heights, offsets in page twentieths), 30 ep. | 0.599 | 0.641 |
| 4 | as 3, learning rate 4e-3 | 0.583 | 0.541 (mean) |
| 5 | as 3, dropout and n-gram dropout 0.25, weight decay 0.05 | 0.579 | 0.626 |
| 6 | as 3, dropout 0.4, weight decay 0.1 | 0.582 | 0.657 |
| 7 | as 3, 4 layers, link positives weighted x3, box jitter 0.1, 45 epochs | 0.590 | 0.686 (thr 0.3) |
| 8 | as 3, dropout 0.25, box jitter 0.1, 45 epochs, thr. 0.1 | 0.595 | 0.704 (0.674 at 0.5) |
| 9 | as 8, no exact-word n-gram id (shape + 1-4-grams), thr. 0.1 | 0.617 | 0.705 |
| 10 | as 8, no exact-word id, 1-3-grams only | 0.607 | 0.681 |
| 11 | as 9, no whole-word shape id either (1-4-grams only) | 0.579 | 0.694 |
| 12 | as 11, dropout 0.35 | 0.595 | 0.700 |
| - | decoding: a word joins its predecessor only when both have the same label | 0.481 (from 0.599) | - |
| - | decoding: join only consecutive words of the annotation's order (as BIO tags) | 0.627 (from 0.595) | - |
| - | decoding: the same, consecutive in our reading order | 0.563 (from 0.595) | - |

Served: run 9 (end to end: pair F1 0.235 against 0.224 for run 8). The gap between training and
held-out forms is the limit: the served model labels 96% of the training forms' words right and
73% of the held-out forms' (entity grouping F1 0.88 against 0.74). Regularising harder (runs 5,
6) did not close it, nor did the n-gram variants (runs 9-12, one seed each: differences of about
0.02 may not survive another seed, which was not measured). 119 forms are little to learn the
language of forms from without pre-training, which is what the published models above the
targets have (LayoutLMv3, BROS, LayoutXLM: millions of pages). Not tried for lack of time:
synthetic key -> value forms (the generator of `export/documents` knows lines, not yet keys and
values), an entity-level second stage (pooling the grouped words before linking), a pre-trained
text embedding."""

MISTAKES = """The most common mistakes on the held-out forms (ground-truth words, served model; count, kind,
an example as `form: annotated text -> what the model made of it`):

| count | kind | example |
| --- | --- | --- |
| 80 | key merged with the text next to it | `0000971160: ':' -> 'Supervisor Manager : /'` |
| 61 | value merged with the text next to it | `0000971160: 'comments to ...' -> 'Manager Comments: ...'` |
| 61 | value labelled key | `0001118259: 'WCC'` (a code in a table cell) |
| 47 | key split in two | `0000971160: 'Name / Phone Ext. :' -> 'Name / Phone' + 'Ext. :'` |
| 42 | value linked to the wrong key | `0000999294: '14.0' -> 'CIGARETTES:'`, truly `'MOIST'` (a table) |
| 39 | link where the form has none | `0000999294: 'PREFERENCE:' -> '(n=)'` |
| 34 | value labelled other | `0000999294: '100'` (a table cell) |
| 31 | key labelled value | `0000971160: ''` (an empty checkbox glyph annotated as a key) |
| 30 | other merged with the text next to it | `0000999294: '++/--/**' -> '++/--/** Marginal Difference:'` |
| 28 | value split in two | `0001118259: 'PCFS Flue cured fines' -> 'PCFS' + 'Flue cured fines'` |"""


def _figures(report: KeyValuesReport) -> str:
    scores = report.held_out
    rows = [f"| {label} | {c.precision:.3f} | {c.recall:.3f} | {c.f1:.3f} | {c.expected} |"
            for label, c in scores.labelling.items()]
    links = scores.linking
    rows.append(f"| links (annotated entities) | {links.precision:.3f} | {links.recall:.3f} | "
                f"{links.f1:.3f} | {links.expected} |")
    strict = scores.linking_from_words
    rows.append(f"| links (the model's entities) | {strict.precision:.3f} | {strict.recall:.3f} | "
                f"{strict.f1:.3f} | {strict.expected} |")
    return "\n".join(["| entities / links | precision | recall | F1 | annotated |",
                      "| --- | --- | --- | --- | --- |", *rows])


def _end_to_end(report: KeyValuesReport) -> str:
    scores = report.end_to_end
    if scores is None:
        return "Not measured in this build (`--no-end-to-end`)."
    pairs = scores.pairs
    return (f"Pair precision {pairs.precision:.3f}, recall {pairs.recall:.3f}, **F1 {pairs.f1:.3f}** "
            f"({pairs.hits} of {pairs.expected} annotated question -> answer links found, "
            f"{pairs.predicted} pairs predicted, {scores.forms} forms, {scores.words} OCR words).\n\n"
            "**Provisional words**: docserve's OCR reports lines; until it reports word polygons, each "
            "line is split on spaces and each word gets the share of the line's extent its "
            "characters take (`export/key_values/end_to_end.py`); words the OCR glued together "
            "(`No.533`) stay one word. Not yet measured with the OCR's own word polygons.")


def model_card(report: KeyValuesReport) -> str:
    settings = report.settings
    scores = report.held_out
    return f"""# key_values

Reads one page's words (text, polygon, confidence) and answers which words form one entity, what
each entity is ({", ".join(f"`{label}`" for label in LABELS)}) and which key each value answers.
Pre- and post-processing: `docserve.processing.key_values` (`featurize`, `decode`), numpy only,
shared by the Triton step and the in-process reference. A key without a value is reported with
`value: null`.

## Tensors (one page per call, any word count; no Triton batch axis)
| name | type | shape | meaning |
| --- | --- | --- | --- |
| `word_ngram_ids` | INT64 | [words, {NGRAMS_PER_WORD}] | hashed character n-grams per word (see below) |
| `word_features` | FP32 | [words, {WORD_FEATURES}] | box as page fractions, text shape, OCR confidence |
| `word_label_logits` | FP32 | [words, {len(LABELS)}] | {", ".join(LABELS)} |
| `word_predecessor_logits` | FP32 | [words, words + 1] | the word before this one in its entity; last: none |
| `word_link_logits` | FP32 | [words, words] | the row word's entity is the key of the column word's |

N-grams: crc32 of the lower-cased word, of its digit shape (digits as 0) and of its
boundary-marked 1-4-grams, into {HASH_BUCKETS} buckets (0 pads). Features: x0, y0, x1, y1, centre,
size as page fractions; text length, digit / letter / capital shares, initial capital, trailing
colon, colon, empty, punctuation only, trailing full stop, opening bracket; OCR confidence.

Decoding: entities = words joined along their predecessor choice; an entity's label = argmax of its
words' mean label probabilities; entity link probability = the highest over its word pairs; each
value goes to its most probable key when that is >= {LINK_THRESHOLD}.

## Architecture
A small layout transformer over word tokens ({settings.layers} layers, width {settings.width}, 4 heads):
a word = mean of its n-gram embeddings (64-d, n-grams dropped at random while training) + its
features + Fourier features of its box. Every attention layer adds a learned per-head bias computed
from the pair geometry (centre offsets, gaps between edges, left-edge alignment, vertical and
horizontal overlap, distance, size ratios), so "right of, on the same line" or "just below,
aligned" shape the context directly. Two pair heads score `w . relu(U h_i + V h_j + W g_ij)` over
every ordered word pair, the pair geometry `g_ij` again: predecessor (grouping) and key -> value
link. {report.export.size_bytes / 1e6:.1f} MB ONNX, opset {report.export.opset}; ONNX vs torch max
abs diff {report.export.max_abs_diff:.1e} (parity check on the largest held-out form).

## Training data and terms
- **FUNSD** training split (Jaume, Ekenel, Thiran, ICDAR-OST 2019): 149 real scanned forms from
  the Legacy Tobacco Document Library, with word boxes, entity labels and links. FUNSD's terms
  allow use **solely for non-commercial, research and educational purposes**: these weights were
  trained on it and inherit those terms. The forms are read at training time from
  `../shared/data/form_fields/funsd_train` and are not in this repository.
- Split by document: {HELD_OUT_FORMS} whole forms held out with seed {SEED} (their names:
  `validation_forms.txt`), {report.training_forms} forms for training. Labels: question -> `key`,
  answer -> `value`, header, other; only question -> answer links are key -> value links (FUNSD's
  header -> question links are not).
- Loss: label cross-entropy + predecessor cross-entropy + link binary cross-entropy over all word
  pairs (positives weighted x{settings.link_positive_weight:g}); AdamW {settings.learning_rate:g},
  one-cycle, weight decay {settings.weight_decay:g}, {settings.epochs} epochs,
  {settings.pages_per_step} pages per step, boxes jittered (page scale and shift up to
  {settings.jitter:g}); seed {SEED}; {report.training_seconds:.0f} s on one thread of the shared 2-core CPU.
- Reproduce: `docserve export key-values` (add `--forms DIR` when the forms are elsewhere).

## Held-out figures ({scores.forms} FUNSD forms never trained on)
**Below the targets** of issue 27 (labelling F1 >= 0.80 and linking F1 >= 0.75 on ground-truth
words, pair F1 >= 0.60 end to end): see "What was tried" for where it stands and why.

Ground-truth words (the published protocol): **labelling F1 {scores.labelling_f1:.3f}** (micro over
key, value and header entities; an entity counts when its word set and label are exact; the
literature tags "other" as O), **linking F1 {scores.linking.f1:.3f}** (annotated entities given, as
in LayoutXLM's and BROS's relation extraction; each answer to its most probable question).

{_figures(report)}

Published figures (FUNSD test split, ground-truth words/entities), for scale:

{PUBLISHED}

End to end, from the page image through docserve's own OCR (the in-process reference OCR): a
predicted pair matches an annotated question -> answer link when both texts agree (normalized:
case, whitespace, punctuation at the ends; similarity 1 - edit distance / longer length >= 0.8),
one to one. {_end_to_end(report)}

Cost: {report.ms_per_page:.1f} ms per page for featurize + model + decode (onnxruntime, 1 thread,
mean over the held-out forms' annotated words).

## What was tried
{TRIED}

## Mistakes
{MISTAKES}

Measure again: `docserve export evaluate --fields ../shared/data/form_fields/funsd_train --held-out`.
"""
