"""Shared fixtures: the tiny smoke configs with per-test overrides."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml

from synergy_control.training.buffers import Batch
from synergy_control.training.config import Config, config_from_dict


CONFIGS = Path(__file__).resolve().parents[2] / 'config' / 'train'


@pytest.fixture
def smoke_config() -> Callable[..., Config]:
    """Build the smoke config of an algorithm with overrides, e.g. total_steps=500."""
    def build(algorithm: str = 'td3', **overrides) -> Config:
        data = yaml.safe_load((CONFIGS / f'smoke_{algorithm}.yaml').read_text())
        data.update(overrides)
        return config_from_dict(data, name=f'smoke_{algorithm}')
    return build


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
