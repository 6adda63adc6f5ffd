"""What TD3 and SAC share: observation normalisation, acting, export, target updates."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from synergy_control.policies.registry import PolicyContext, get_policy
from synergy_control.training.buffers import Batch
from synergy_control.training.config import Config
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


def adam(params: Iterable[torch.Tensor], lr: float,
         betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Adam:
    """Adam with the fused kernel (one launch for all tensors, ~3x faster steps on CPU too)."""
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)


def frozen_copy(module: nn.Module) -> nn.Module:
    """Copy a network as a target network that no optimiser or gradient touches."""
    target = copy.deepcopy(module)
    target.requires_grad_(False)
    return target


class OffPolicyAgent(nn.Module):
    """Base of the actor-critic learners; subclasses define ``update`` and noise.

    The networks come from the policy builder named by ``config.policy``, for the robots of
    ``context`` (observations and actions padded to the largest). ``update`` returns detached
    tensors so the training loop decides when to pay a device sync (only when it logs).
    """

    metric_names: tuple[str, ...] = ()
    actor: nn.Module
    critic: nn.Module

    def __init__(self, context: PolicyContext, config: Config):
        super().__init__()
        self.context = context
        self.obs_dim, self.act_dim = context.obs_dim, context.act_dim
        self.builder = get_policy(config.policy.name)(context, config.policy.settings)
        self.obs_norm = RunningNormalizer(self.obs_dim) if config.normalize_obs else None
        self.updates = 0
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def normalize(self, obs: torch.Tensor) -> torch.Tensor:
        """Standardise observations with the running statistics (identity when disabled)."""
        return obs if self.obs_norm is None else self.obs_norm(obs)

    def _padded(self, obs: np.ndarray, dtype: torch.dtype | None = torch.float32) -> torch.Tensor:
        """Observation(s) of one robot, zero-padded to the network's input size."""
        x = torch.as_tensor(obs, dtype=dtype, device=self.device)
        return x if x.shape[-1] == self.obs_dim else F.pad(x, (0, self.obs_dim - x.shape[-1]))

    def observe(self, obs: np.ndarray) -> None:
        """Feed a newly seen (training-robot) observation to the running normaliser."""
        if self.obs_norm is not None:
            self.obs_norm.update(self._padded(obs, dtype=None))  # float64 statistics

    def robot_index(self, robot: str | int | None) -> torch.Tensor | None:
        """Robot index tensor for the networks (None: the policy drives one robot)."""
        if robot is None or len(self.context.robots) == 1:
            return None
        return torch.tensor(self._robot(robot), device=self.device)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False,
            robot: str | int | None = None) -> np.ndarray:
        """Return action(s) in [-1, 1] for raw observation(s) [obs] or [B, obs] of one robot.

        ``robot`` (name or index) is needed when the policy drives several; the observation
        is that robot's own, the action has that robot's size.
        """
        action = self._action(self.normalize(self._padded(obs)), self.robot_index(robot),
                              deterministic)
        if robot is not None:
            action = action[..., :self.context.act_dims[self._robot(robot)]]
        return action.cpu().numpy()

    @torch.no_grad()
    def act_robots(self, observations: Sequence[np.ndarray], robots: Sequence[str | int],
                   deterministic: bool = False) -> list[np.ndarray]:
        """Return one action per robot for its one raw observation, from ONE padded forward.

        What the training loop of a robot set asks at each env step: one actor pass over all
        its robots (rows padded like a replay batch, a robot index per row) instead of one
        :meth:`act` per robot. Each action has its robot's size, as :meth:`act` gives it.
        """
        padded = torch.stack([self._padded(obs) for obs in observations])
        indices = [self._robot(robot) for robot in robots]
        index = (None if len(self.context.robots) == 1
                 else torch.tensor(indices, device=self.device))
        action = self._action(self.normalize(padded), index, deterministic).cpu().numpy()
        return [row[:self.context.act_dims[i]] for row, i in zip(action, indices)]

    def _action(self, obs: torch.Tensor, robot: torch.Tensor | None,
                deterministic: bool) -> torch.Tensor:
        """Return the actor's action, or an exploration action, for normalised observations."""
        return self.actor.deterministic(obs, robot) if deterministic else self.explore(obs, robot)

    def explore(self, obs: torch.Tensor, robot: torch.Tensor | None) -> torch.Tensor:
        """Return an exploration action for normalised observations."""
        raise NotImplementedError

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One gradient step on a batch of raw transitions."""
        raise NotImplementedError

    def critic_step(self, obs: torch.Tensor, batch: Batch,
                    target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One critic update: MSE of every Q head toward ``target``; return (loss, Q [n, B]).

        ``obs`` is the batch's normalised observation; TD3 and SAC differ only in ``target``.
        """
        q = self.critic(obs, batch.action, batch.robot)
        critic_loss = F.mse_loss(q, target.expand_as(q), reduction='none').mean(1).sum()
        self.optimizers['critic'].zero_grad(set_to_none=True)
        critic_loss.backward()
        self.optimizers['critic'].step()
        return critic_loss, q

    def _robot(self, robot: str | int | None) -> int:
        if robot is None:
            if len(self.context.robots) > 1:
                raise ValueError(f'name the robot to export: one of {self.context.names}')
            return 0
        return self.context.index(robot) if isinstance(robot, str) else int(robot)

    def policy(self, robot: str | int | None = None) -> nn.Module:
        """Standalone float32 CPU export module of one robot (card inputs → card outputs).

        Built by the policy builder around a copy of the actor and the frozen normaliser;
        ``robot`` may be omitted when the policy drives one robot.
        """
        norm = nn.Identity() if self.obs_norm is None else self.obs_norm.frozen()
        module = self.builder.export_module(copy.deepcopy(self.actor), norm, self._robot(robot))
        return module.float().cpu().eval()

    def export_spec(self, robot: str | int | None = None) -> dict:
        """Card sections of :meth:`policy` (inputs, outputs, synergy, tasks)."""
        return self.builder.export_spec(self._robot(robot))

    def optimizer_state(self) -> dict:
        """Return the state of every optimiser, by name."""
        return {name: opt.state_dict() for name, opt in self.optimizers.items()}

    def load_optimizer_state(self, state: dict) -> None:
        """Restore the optimisers saved by :meth:`optimizer_state`.

        A network whose parameter layout changed since (SOLAR's fused critic) converts an
        older checkpoint's state of its optimiser, which is named after it, with its
        ``legacy_optimizer_state``.
        """
        for name, opt in self.optimizers.items():
            convert = getattr(getattr(self, name, None), 'legacy_optimizer_state', None)
            opt.load_state_dict(state[name] if convert is None else convert(state[name]))
