"""A small layout transformer over one page's words, with a label head and two pair heads.

Each word enters as the mean of its hashed n-gram embeddings, its shape features and Fourier
features of its box. The attention of every layer carries a learned bias from the geometry of
each word pair (offsets, gaps, overlaps, distance), so "right of on the same line" or "just
below" shape the context directly. Outputs, per word: label logits; predecessor logits (which word
comes before it in its entity, or none); link logits for every ordered pair (the row word's entity
is the key of the column word's). Both pair heads score ``relu(U h_i + V h_j + W g_ij)``, the
pair geometry again, since linking is mostly about where a value sits relative to its key.
One page per call, any word count (a dynamic axis in ONNX).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from docserve.processing.key_values import (
    GEOMETRY_FEATURES,
    HASH_BUCKETS,
    LABELS,
    WORD_FEATURES,
)

PAIR_FEATURES = 14
FOURIER_BANDS = 6


def pair_geometry(boxes: torch.Tensor) -> torch.Tensor:
    """``[N, N, PAIR_FEATURES]`` from ``[N, 4]`` page-fraction boxes: where j lies seen from i."""
    x0, y0, x1, y1 = (boxes[:, k] for k in range(4))
    width, height = (x1 - x0).clamp(min=1e-4), (y1 - y0).clamp(min=1e-4)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2

    def delta(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return b[None, :] - a[:, None]

    dx, dy = delta(cx, cx), delta(cy, cy)
    line = height[:, None]
    y_overlap = (torch.minimum(y1[:, None], y1[None, :]) - torch.maximum(y0[:, None], y0[None, :])) / \
        torch.minimum(height[:, None], height[None, :])
    x_overlap = (torch.minimum(x1[:, None], x1[None, :]) - torch.maximum(x0[:, None], x0[None, :])) / \
        torch.minimum(width[:, None], width[None, :])
    # Scaled so that a neighbour's values are of order 1: offsets in twentieths of the page, gaps
    # and vertical offsets in line heights (word gap ~0.3, gap between entities ~1-3).
    features = [
        (dx * 20).clamp(-10, 10), (dy * 20).clamp(-10, 10),
        (delta(x1, x0) / line).clamp(-12, 12) / 2,  # gap: j's left minus i's right (j to the right: > 0)
        (delta(x0, x1) / line).clamp(-12, 12) / 2,  # j's right minus i's left (j to the left: < 0)
        (delta(y1, y0) / line).clamp(-12, 12) / 2,  # j's top minus i's bottom (j below: > 0)
        (delta(y0, y1) / line).clamp(-12, 12) / 2,
        (delta(x0, x0) / line).clamp(-12, 12) / 2,  # left edges aligned: 0
        (dy / line).clamp(-12, 12) / 2,
        (delta(x0, x0) * 20).clamp(-10, 10),
        y_overlap.clamp(-3, 1),
        x_overlap.clamp(-3, 1),
        torch.sqrt(dx * dx + dy * dy + 1e-8) * 10,
        torch.log(height[None, :] / height[:, None]),
        torch.log(width[None, :] / width[:, None]) / 3,
    ]
    return torch.stack(features, dim=-1)


class GeometricAttention(nn.Module):
    """Multi-head self-attention whose logits get a per-head bias from the pair geometry."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.head_width = heads, width // heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.feed = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Dropout(dropout),
                                  nn.Linear(2 * width, width))
        self.dropout = nn.Dropout(dropout)

    def forward(self, hidden: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """``bias``: ``[heads, N, N]`` added to the attention logits."""
        count = hidden.shape[0]
        q, k, v = self.qkv(self.norm1(hidden)).reshape(count, 3, self.heads, self.head_width).unbind(1)
        q, k, v = (t.transpose(0, 1) for t in (q, k, v))  # [heads, N, head_width]
        logits = q @ k.transpose(1, 2) / math.sqrt(self.head_width) + bias
        attended = (torch.softmax(logits, dim=-1) @ v).transpose(0, 1).reshape(count, -1)
        hidden = hidden + self.dropout(self.out(attended))
        return hidden + self.dropout(self.feed(self.norm2(hidden)))


class PairScorer(nn.Module):
    """``[N, N]`` logits ``w . relu(U h_i + V h_j + W g_ij)`` (``W g_ij`` comes in projected)."""

    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.source, self.target = nn.Linear(width, hidden), nn.Linear(width, hidden, bias=False)
        self.score = nn.Linear(hidden, 1)

    def forward(self, hidden: torch.Tensor, geometry: torch.Tensor) -> torch.Tensor:
        joint = self.source(hidden)[:, None, :] + self.target(hidden)[None, :, :] + geometry
        return self.score(torch.relu(joint)).squeeze(-1)


class KeyValueModel(nn.Module):
    def __init__(self, width: int = 128, layers: int = 3, heads: int = 4, text_width: int = 64,
                 pair_width: int = 32, pair_hidden: int = 32, dropout: float = 0.1):
        super().__init__()
        self.embedding = nn.Embedding(HASH_BUCKETS, text_width, padding_idx=0)
        fourier = 2 * FOURIER_BANDS * GEOMETRY_FEATURES
        self.register_buffer("frequencies", math.pi * 2.0 ** torch.arange(FOURIER_BANDS, dtype=torch.float32))
        self.word = nn.Sequential(nn.Linear(text_width + WORD_FEATURES + fourier, width), nn.LayerNorm(width))
        # One projection of the pair geometry feeds every layer's attention bias and both pair heads.
        self.split = (layers * heads, pair_hidden, pair_hidden)
        self.pairs = nn.Sequential(nn.Linear(PAIR_FEATURES, pair_width), nn.ReLU(),
                                   nn.Linear(pair_width, sum(self.split)))
        self.layers = nn.ModuleList(GeometricAttention(width, heads, dropout)
                                    for _ in range(layers))
        self.heads = heads
        self.norm = nn.LayerNorm(width)
        self.labels = nn.Linear(width, len(LABELS))
        self.predecessor = PairScorer(width, pair_hidden)
        self.first = nn.Linear(width, 1)
        self.link = PairScorer(width, pair_hidden)
        self.text_dropout = dropout

    def _words(self, ngrams: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        present = (ngrams > 0).float()
        if self.training:  # drop whole n-grams so no single one carries a word
            present = present * (torch.rand_like(present) > self.text_dropout).float()
        text = (self.embedding(ngrams) * present[..., None]).sum(1)
        text = text / present.sum(1, keepdim=True).clamp(min=1)
        angles = features[:, :GEOMETRY_FEATURES, None] * self.frequencies
        fourier = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(1)
        return self.word(torch.cat([text, features, fourier], dim=-1))

    def forward(self, word_ngram_ids: torch.Tensor, word_features: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        biases, predecessor_geometry, link_geometry = self.pairs(
            pair_geometry(word_features[:, :4])).split(self.split, dim=-1)
        biases = biases.permute(2, 0, 1)
        hidden = self._words(word_ngram_ids, word_features)
        for index, layer in enumerate(self.layers):
            hidden = layer(hidden, biases[index * self.heads:(index + 1) * self.heads])
        hidden = self.norm(hidden)
        positions = torch.arange(hidden.shape[0])
        itself = (positions[:, None] == positions[None, :]).float() * 1e4  # a word never precedes itself
        predecessor = torch.cat([self.predecessor(hidden, predecessor_geometry) - itself,
                                 self.first(hidden)], dim=1)
        return self.labels(hidden), predecessor, self.link(hidden, link_geometry)
