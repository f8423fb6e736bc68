"""One minibatch training loop for every model: Adam, cosine learning rate, fixed seed."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

Augment = Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def fit(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss: Loss,
    *,
    epochs: int,
    seed: int,
    batch_size: int = 32,
    learning_rate: float = 3e-3,
    augment: Augment | None = None,
    weight_decay: float = 0.0,
) -> nn.Module:
    """Train ``model`` (its ``forward`` gives what ``loss`` expects) and return it in eval mode.

    ``augment`` maps a batch ``(inputs, targets)`` to a new one (random crops, flips...) using
    the loop's generator, so augmentation is as reproducible as the shuffling.
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    steps = epochs * -(-len(inputs) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, learning_rate, total_steps=steps)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(inputs), generator=generator).split(batch_size):
            batch_inputs, batch_targets = inputs[batch].float(), targets[batch].float()
            if augment is not None:
                batch_inputs, batch_targets = augment(batch_inputs, batch_targets, generator)
            optimizer.zero_grad()
            loss(model(batch_inputs), batch_targets).backward()
            optimizer.step()
            schedule.step()
    return model.eval()
