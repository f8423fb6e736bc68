"""``signature``: page thumbnail -> heatmap of where a handwritten signature is.

A small fully convolutional network: two strided convolutions reach 1/4 resolution, then
dilated convolutions widen the view to ~250 thumbnail pixels, enough to see a signature line and
its label, which is what tells a signature from handwriting filled into a form field. Presence
and the box come from the heatmap (``processing.signature_heatmap``). Being fully convolutional,
it trains on 256 px crops (4x cheaper) and runs on the whole 512 px thumbnail.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from docserve.processing.signature_heatmap import HEATMAP_STRIDE

CROP = 256
DILATIONS = (1, 2, 4, 8, 16)


def _conv(inputs: int, outputs: int, stride: int = 1, dilation: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(inputs, outputs, 3, stride=stride, padding=dilation, dilation=dilation),
        nn.BatchNorm2d(outputs), nn.ReLU(),
    ]


class SignatureLocator(nn.Module):
    """``page_thumbnail [B, 1, 512, 512]`` -> ``signature_heatmap [B, 1, 128, 128]`` (0..1)."""

    def __init__(self, channels: int = 16):
        super().__init__()
        layers = [*_conv(1, channels, stride=2), *_conv(channels, channels, stride=2)]
        for dilation in DILATIONS:
            layers += _conv(channels, channels, dilation=dilation)
        layers.append(nn.Conv2d(channels, 1, 1))
        self.layers = nn.Sequential(*layers)

    def logits(self, page_thumbnail: torch.Tensor) -> torch.Tensor:
        return self.layers(page_thumbnail)

    def forward(self, page_thumbnail: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(page_thumbnail))


class _Logits(nn.Module):
    def __init__(self, locator: SignatureLocator):
        super().__init__()
        self.locator = locator

    def forward(self, thumbnails: torch.Tensor) -> torch.Tensor:
        return self.locator.logits(thumbnails)


def _loss(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Per-cell cross-entropy plus a Dice term, so the few signature cells are not drowned."""
    probabilities = torch.sigmoid(logits)
    overlap = (probabilities * masks).sum()
    dice = 1 - (2 * overlap + 1) / (probabilities.sum() + masks.sum() + 1)
    return F.binary_cross_entropy_with_logits(logits, masks) + dice


def _random_crops(thumbnails: torch.Tensor, masks: torch.Tensor,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """256 px crops: around the signature for half the signed pages, anywhere otherwise."""
    size, cell = thumbnails.shape[-1], CROP // HEATMAP_STRIDE
    crops, mask_crops = [], []
    for thumbnail, mask in zip(thumbnails, masks, strict=True):
        top, left = (torch.randint(0, (size - CROP) // HEATMAP_STRIDE + 1, (2,),
                                   generator=generator)).tolist()
        cells = torch.nonzero(mask[0] > 0)
        if len(cells) and torch.rand(1, generator=generator).item() < 0.5:
            centre = cells.float().mean(dim=0) + torch.randint(-cell // 3, cell // 3 + 1, (2,),
                                                               generator=generator)
            top, left = (centre - cell / 2).round().clamp(0, mask.shape[-1] - cell).int().tolist()
        crops.append(thumbnail[:, top * HEATMAP_STRIDE : top * HEATMAP_STRIDE + CROP,
                               left * HEATMAP_STRIDE : left * HEATMAP_STRIDE + CROP])
        mask_crops.append(mask[:, top : top + cell, left : left + cell])
    return torch.stack(crops) / 255.0, torch.stack(mask_crops) / 255.0


def train_signature_locator(thumbnails: np.ndarray, masks: np.ndarray, seed: int,
                            epochs: int = 30) -> SignatureLocator:
    from docserve.export.vision.fit import fit

    torch.manual_seed(seed)
    model = SignatureLocator()
    fit(_Logits(model), torch.from_numpy(thumbnails)[:, None], torch.from_numpy(masks)[:, None],
        _loss, epochs=epochs, seed=seed, batch_size=16, augment=_random_crops)
    return model.eval()
