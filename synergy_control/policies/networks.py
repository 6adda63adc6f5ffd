"""Actor and critic networks: plain Linear/ReLU/Tanh MLPs, ONNX-exportable.

:class:`DeterministicPolicy` wraps a normaliser and an actor into the export graph of one robot.

The twin critics are one module with stacked weights: each layer is one ``baddbmm`` over
both Q heads, so two critics cost one kernel per layer on the GPU and one BLAS call on CPU.
On a set of robots the MLPs are the monolithic baseline: inputs and outputs padded to the
largest robot, padded action columns masked to 0 by robot index (``act_mask`` [robots, A]).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
#: Hidden-layer activations by config name: ReLU (TD3/SAC), ELU (rl_games' PPO networks)
ACTIVATIONS: dict[str, type[nn.Module]] = {'relu': nn.ReLU, 'elu': nn.ELU}


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int,
        activation: str = 'relu') -> nn.Sequential:
    """Build a Linear-activation stack ending in a plain Linear."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width), ACTIVATIONS[activation]()]
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class ActionMask(nn.Module):
    """Zeroes each sample's padded action columns, looked up by robot index."""

    def __init__(self, act_mask: np.ndarray | None):
        super().__init__()
        # not persistent: derived from the robots, so checkpoints keep their old keys
        self.register_buffer('table', None if act_mask is None else torch.as_tensor(act_mask),
                             persistent=False)

    def forward(self, x: torch.Tensor, robot: torch.Tensor | None) -> torch.Tensor:
        return x if self.table is None or robot is None else x * self.table[robot]


class DeterministicActor(nn.Module):
    """TD3 policy: tanh-squashed MLP, actions in [-1, 1]."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int],
                 act_mask: np.ndarray | None = None, activation: str = 'relu'):
        super().__init__()
        self.net = mlp(obs_dim, hidden, act_dim, activation)
        self.mask = ActionMask(act_mask)

    def forward(self, obs: torch.Tensor, robot: torch.Tensor | None = None) -> torch.Tensor:
        return self.mask(torch.tanh(self.net(obs)), robot)

    def deterministic(self, obs: torch.Tensor,
                      robot: torch.Tensor | None = None) -> torch.Tensor:
        """Return the action without exploration noise."""
        return self(obs, robot)


def tanh_gaussian_log_prob(mean: torch.Tensor, log_std: torch.Tensor,
                           pre_tanh: torch.Tensor,
                           mask: torch.Tensor | None = None) -> torch.Tensor:
    """Log-probability log π(tanh(u)) for u ~ N(mean, std), summed over action dims.

    Change of variables: log N(u) − Σ log(1 − tanh(u)²), with the stable identity
    log(1 − tanh(u)²) = 2 (log 2 − u − softplus(−2u)). ``mask`` [B, A] keeps a padded
    robot's own columns only.
    """
    gauss = (-0.5 * ((pre_tanh - mean) / log_std.exp()).square() - log_std
             - 0.5 * math.log(2 * math.pi))
    log_det = 2.0 * (math.log(2.0) - pre_tanh - F.softplus(-2.0 * pre_tanh))
    per_dim = gauss - log_det
    return (per_dim if mask is None else per_dim * mask).sum(-1)


def tanh_gaussian_sample(mean: torch.Tensor, log_std: torch.Tensor,
                         mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Reparameterised u ~ N(mean, std): return tanh(u) in (-1, 1) and log π(tanh(u)) [B].

    Every tanh-Gaussian actor samples here (SAC's MLP, SAR's synergy actor, EAR's decoder);
    ``mask`` as in :func:`tanh_gaussian_log_prob`.
    """
    pre_tanh = mean + log_std.exp() * torch.randn_like(mean)
    return torch.tanh(pre_tanh), tanh_gaussian_log_prob(mean, log_std, pre_tanh, mask)


class GaussianActor(nn.Module):
    """SAC policy: MLP trunk with mean and log-std heads, tanh-squashed Gaussian."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int],
                 act_mask: np.ndarray | None = None, activation: str = 'relu'):
        super().__init__()
        self.trunk = mlp(obs_dim, hidden[:-1], hidden[-1], activation)
        self.activation = ACTIVATIONS[activation]()  # of the trunk's last layer
        self.mean = nn.Linear(hidden[-1], act_dim)
        self.log_std = nn.Linear(hidden[-1], act_dim)
        self.mask = ActionMask(act_mask)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return mean and clamped log-std of the pre-tanh Gaussian."""
        h = self.activation(self.trunk(obs))
        return self.mean(h), self.log_std(h).clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, obs: torch.Tensor,
               robot: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw a reparameterised action in (-1, 1) and its log-probability [B]."""
        keep = None if self.mask.table is None or robot is None else self.mask.table[robot]
        action, log_prob = tanh_gaussian_sample(*self(obs), keep)
        return self.mask(action, robot), log_prob

    def deterministic(self, obs: torch.Tensor,
                      robot: torch.Tensor | None = None) -> torch.Tensor:
        """Return tanh of the mean: the evaluation action."""
        return self.mask(torch.tanh(self.mean(self.activation(self.trunk(obs)))), robot)


class EnsembleLinear(nn.Module):
    """``n`` independent Linear layers applied as one batched matmul: [n, B, in] → [n, B, out].

    An input of m < n members [m, B, in] runs the first m layers (SOLAR's ``first_only``).
    """

    def __init__(self, n: int, in_dim: int, out_dim: int):
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)  # nn.Linear's default init range
        self.weight = nn.Parameter(torch.empty(n, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n, 1, out_dim).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) == len(self.weight):
            return torch.baddbmm(self.bias, x, self.weight)
        return torch.baddbmm(self.bias[:len(x)], x, self.weight[:len(x)])


class TwinCritic(nn.Module):
    """``n`` Q-functions Q(s, a) evaluated together; returns [n, B]."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int], n: int = 2):
        super().__init__()
        dims = [obs_dim + act_dim, *hidden, 1]
        self.n = n
        self.layers = nn.ModuleList(EnsembleLinear(n, a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, obs: torch.Tensor, action: torch.Tensor,
                robot: torch.Tensor | None = None, first_only: bool = False) -> torch.Tensor:
        """Return Q [n, B] ([1, B] with ``first_only``: the first row of the same pass)."""
        x = torch.cat([obs, action], -1)  # padded columns are zero: no robot lookup needed
        x = x.unsqueeze(0).expand(self.n, *x.shape)
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        q = self.layers[-1](x).squeeze(-1)
        return q[:1] if first_only else q


class BatchRenorm(nn.Module):
    """Batch renormalisation (Ioffe 2017) of ``n`` ensemble members' features [n, B, width].

    What CrossQ's critics need: in training, batch statistics corrected toward the running
    ones by r = σ_B/σ (clipped to [1/r_max, r_max]) and d = (μ_B − μ)/σ (clipped to ±d_max),
    both without gradient, so the joint (s, a) / (s', a') batch and single evaluations agree;
    plain batch normalisation for the first ``warmup_steps`` updates, as sb3-contrib's CrossQ
    does. In eval mode it is the fixed affine map of the running statistics.
    """

    def __init__(self, n: int, width: int, momentum: float = 0.01, eps: float = 1e-3,
                 warmup_steps: int = 100_000, r_max: float = 3.0, d_max: float = 5.0):
        super().__init__()
        self.momentum, self.eps, self.warmup_steps = momentum, eps, warmup_steps
        self.r_max, self.d_max = r_max, d_max
        self.weight = nn.Parameter(torch.ones(n, 1, width))
        self.bias = nn.Parameter(torch.zeros(n, 1, width))
        self.register_buffer('running_mean', torch.zeros(n, 1, width))
        self.register_buffer('running_var', torch.ones(n, 1, width))
        self.register_buffer('steps', torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        running_std = (self.running_var + self.eps).sqrt()
        if not self.training:
            return (x - self.running_mean) / running_std * self.weight + self.bias
        mean = x.mean(1, keepdim=True)
        var = x.var(1, unbiased=False, keepdim=True)
        std = (var + self.eps).sqrt()
        normalised = (x - mean) / std
        if self.steps >= self.warmup_steps:
            r = (std.detach() / running_std).clamp(1 / self.r_max, self.r_max)
            d = ((mean.detach() - self.running_mean) / running_std).clamp(-self.d_max,
                                                                          self.d_max)
            normalised = normalised * r + d
        with torch.no_grad():
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var, self.momentum)
            self.steps += 1
        return normalised * self.weight + self.bias


class RenormTwinCritic(nn.Module):
    """CrossQ's twin critics: batch-renormalised input and hidden layers; returns [n, B].

    Input → BatchRenorm, then per hidden layer Linear → BatchRenorm → ReLU, then a Linear.
    Without target networks the caller runs (s, a) and (s', a') as one batch in train mode.
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int], n: int = 2,
                 warmup_steps: int = 100_000):
        super().__init__()
        dims = [obs_dim + act_dim, *hidden, 1]
        self.n = n
        self.layers = nn.ModuleList(EnsembleLinear(n, a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.norms = nn.ModuleList(BatchRenorm(n, width, warmup_steps=warmup_steps)
                                   for width in dims[:-1])

    def forward(self, obs: torch.Tensor, action: torch.Tensor,
                robot: torch.Tensor | None = None, first_only: bool = False) -> torch.Tensor:
        """Return Q [n, B] ([1, B] with ``first_only``: the first row of the same pass)."""
        x = torch.cat([obs, action], -1)
        x = self.norms[0](x.unsqueeze(0).expand(self.n, *x.shape))
        for layer, norm in zip(self.layers[:-1], self.norms[1:]):
            x = F.relu(norm(layer(x)))
        q = self.layers[-1](x).squeeze(-1)
        return q[:1] if first_only else q


class DeterministicPolicy(nn.Module):
    """Raw observation batch [B, obs] → deterministic action [B, act] in [-1, 1].

    For one robot of a set, the observation is zero-padded by ``pad`` columns to the network's
    input and the action cut to the robot's ``act_dim`` (no extra ops for a single robot).
    """

    def __init__(self, normalizer: nn.Module, actor: nn.Module, pad: int = 0,
                 act_dim: int | None = None):
        super().__init__()
        self.normalizer = normalizer
        self.actor = actor
        self.pad, self.act_dim = pad, act_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.pad:
            obs = F.pad(obs, (0, self.pad))
        action = self.actor.deterministic(self.normalizer(obs))
        return action if self.act_dim in (None, action.shape[-1]) else action[..., :self.act_dim]
