"""Running observation normaliser (parallel Welford update), kept as module buffers.

Statistics are float64 on the training device so that a million single-sample updates do
not drift; :meth:`RunningNormalizer.frozen` gives the float32 mean/std module that the
exported policy bakes in.
"""

from __future__ import annotations

import torch
from torch import nn


class Standardize(nn.Module):
    """Fixed ``clip((x - mean) / std)``: plain tensor ops, ONNX-exportable."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, clip: float):
        super().__init__()
        self.register_buffer('mean', mean.detach().to(torch.float32).clone())
        self.register_buffer('std', std.detach().to(torch.float32).clone())
        self.clip = float(clip)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp((x - self.mean) / self.std, -self.clip, self.clip)


class RunningNormalizer(nn.Module):
    """Observation standardisation with statistics updated from every observed state."""

    def __init__(self, size: int, clip: float = 10.0, eps: float = 1e-8):
        super().__init__()
        self.clip, self.eps = float(clip), float(eps)
        self.register_buffer('count', torch.zeros((), dtype=torch.float64))
        self.register_buffer('mean', torch.zeros(size, dtype=torch.float64))
        self.register_buffer('var', torch.ones(size, dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Merge a sample [size] or a batch [B, size] (Chan et al. parallel update, no sync)."""
        x = x.reshape(-1, self.mean.shape[0]).to(self.mean)
        n = x.shape[0]
        batch_mean = x.mean(0)
        batch_var = x.var(0, unbiased=False) if n > 1 else torch.zeros_like(batch_mean)
        total = self.count + n
        delta = batch_mean - self.mean
        m2 = self.var * self.count + batch_var * n + delta.square() * self.count * n / total
        self.mean.add_(delta * n / total)
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    @property
    def std(self) -> torch.Tensor:
        """Standard deviation with the ``eps`` floor used for division."""
        return torch.sqrt(self.var + self.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self.mean.to(x.dtype), self.std.to(x.dtype)
        return torch.clamp((x - mean) / std, -self.clip, self.clip)

    def frozen(self) -> Standardize:
        """Return the current statistics as a fixed float32 module (for export)."""
        return Standardize(self.mean, self.std, self.clip)
