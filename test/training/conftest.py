"""Shared fixtures of the training tests: parameter snapshots and random batches."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from synergy_control.training.buffers import Batch


class Snapshot:
    """A copy of a module's parameters, to tell whether an update moved them."""

    def __init__(self, module: torch.nn.Module):
        self.module = module
        self.values = [p.detach().clone() for p in module.parameters()]

    def changed(self) -> bool:
        return any(not torch.equal(a, b) for a, b in zip(self.values, self.module.parameters()))


@pytest.fixture
def snapshot() -> type[Snapshot]:
    """Copy a module's parameters; ask ``.changed()`` after an update."""
    return Snapshot


@pytest.fixture
def random_batch() -> Callable[[int, int, int], Batch]:
    """Make n random transitions of given sizes, ~10 % terminal."""
    def build(n: int, obs_dim: int, act_dim: int) -> Batch:
        return Batch(torch.randn(n, obs_dim), torch.rand(n, act_dim) * 2 - 1, torch.randn(n),
                     torch.randn(n, obs_dim), (torch.rand(n) < 0.1).float())
    return build
