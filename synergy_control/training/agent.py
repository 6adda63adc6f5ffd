"""What TD3 and SAC share: observation normalisation, acting, export, target updates."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from synergy_control.training.buffers import Batch
from synergy_control.training.normalizer import RunningNormalizer


def polyak_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """Move target ← (1 − τ)·target + τ·source, one fused op over all parameters (no host sync)."""
    with torch.no_grad():
        torch._foreach_lerp_(list(target.parameters()), list(source.parameters()), tau)


@contextmanager
def no_param_grad(module: nn.Module) -> Iterator[None]:
    """Let graphs built inside pass gradients through ``module`` but not into its weights.

    The actor loss needs dQ/da only; skipping the critic's weight gradients saves a third of
    that backward pass.
    """
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def adam(params: Iterable[torch.Tensor], lr: float) -> torch.optim.Adam:
    """Adam with the fused kernel (one launch for all tensors, ~3x faster steps on CPU too)."""
    return torch.optim.Adam(params, lr=lr, fused=True)


def frozen_copy(module: nn.Module) -> nn.Module:
    """Copy a network as a target network that no optimiser or gradient touches."""
    target = copy.deepcopy(module)
    target.requires_grad_(False)
    return target


class DeterministicPolicy(nn.Module):
    """Raw observation batch [B, obs] → deterministic action [B, act] in [-1, 1]."""

    def __init__(self, normalizer: nn.Module, actor: nn.Module):
        super().__init__()
        self.normalizer = normalizer
        self.actor = actor

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor.deterministic(self.normalizer(obs))


class OffPolicyAgent(nn.Module):
    """Base of the actor-critic learners; subclasses define the nets, ``update`` and noise.

    ``update`` returns detached tensors so the training loop decides when to pay a device
    sync (only when it logs).
    """

    metric_names: tuple[str, ...] = ()
    actor: nn.Module

    def __init__(self, obs_dim: int, act_dim: int, normalize_obs: bool):
        super().__init__()
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.obs_norm = RunningNormalizer(obs_dim) if normalize_obs else None
        self.updates = 0
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def normalize(self, obs: torch.Tensor) -> torch.Tensor:
        """Standardise observations with the running statistics (identity when disabled)."""
        return obs if self.obs_norm is None else self.obs_norm(obs)

    def observe(self, obs: np.ndarray) -> None:
        """Feed a newly seen observation to the running normaliser."""
        if self.obs_norm is not None:
            self.obs_norm.update(torch.as_tensor(obs, device=self.device))

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Return action(s) in [-1, 1] for raw observation(s) [obs] or [B, obs]."""
        x = self.normalize(torch.as_tensor(obs, dtype=torch.float32, device=self.device))
        action = self.actor.deterministic(x) if deterministic else self.explore(x)
        return action.cpu().numpy()

    def explore(self, obs: torch.Tensor) -> torch.Tensor:
        """Return an exploration action for normalised observations."""
        raise NotImplementedError

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One gradient step on a batch of raw transitions."""
        raise NotImplementedError

    def policy(self) -> DeterministicPolicy:
        """Return a standalone float32 CPU copy of the deterministic policy and normaliser."""
        norm = nn.Identity() if self.obs_norm is None else self.obs_norm.frozen()
        return DeterministicPolicy(norm, copy.deepcopy(self.actor)).float().cpu().eval()

    def optimizer_state(self) -> dict:
        """Return the state of every optimiser, by name."""
        return {name: opt.state_dict() for name, opt in self.optimizers.items()}

    def load_optimizer_state(self, state: dict) -> None:
        """Restore the optimisers saved by :meth:`optimizer_state`."""
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state[name])
