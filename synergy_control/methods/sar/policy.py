"""SAR's blended policy (seed 003): SAC acting in [synergy values, direct values].

The actor's tanh-Gaussian samples ``u = [z (L), d (A)]`` in (-1, 1); the robot gets

    action = clip(φ · (z @ M + b) + (1 − φ) · d, −1, 1)

with the basis ``M`` [L, A], ``b`` [A] of ``synergies extract`` held as fixed buffers of the
actor (not trained, saved in checkpoints, part of the exported graph). φ = 1 is pure synergy
control: the actor then samples ``z`` only (the tutorial's SynergyWrapper); φ < 1 adds the
direct values (its SynNoSynWrapper).

Where the squashing and the log-probability sit: the Gaussian is squashed by tanh in the
sampled space and ``log_prob`` is that of ``u`` (the tutorial's SAC acts in the wrapper's
space too, so its entropy bonus and SAC's default target entropy −dim(u) are the same). The
blend is a deterministic map after sampling; the agent returns the blended action, so the
trainer applies it and the replay stores it, and the critics are Q(s, blended action). That
Q is the augmented space's Q restricted to what the environment sees (two ``u`` with the
same blend have the same value), so SAC's targets and actor gradients are unchanged. The clip
is the environment's own (MuJoCo clamps the control): its gradient is zero outside [−1, 1].

Under PPO (``algorithm: ppo``) the same actor is the Gaussian's mean in the sampled space:
PPO draws ``u`` around ``tanh(mean)`` with its own state-independent std, its log-probability
is that of ``u``, and the environment gets the blend of the draw; the exported graph blends
the mean, as for SAC.

Exported (one robot): input ``obs``; outputs ``action`` and ``synergy`` (role
``synergy_activations``, the mean ``z``); the card's ``synergy`` section is the basis with
its fit statistics and φ.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
from torch import nn

from synergy_control.methods.sar.basis import SynergyBasis
from synergy_control.policies.networks import GaussianActor, TwinCritic, tanh_gaussian_sample
from synergy_control.policies.registry import ActorKind, PolicyBuilder, register_policy
from synergy_control.settings import WIDTHS, ConfigError, option

UNIT_INTERVAL = ('in [0, 1]', lambda v: 0.0 <= v <= 1.0)
GIVEN = ('a basis file (`synergy-control synergies extract`)', lambda v: bool(v))


class SynergyActor(GaussianActor):
    """Tanh-Gaussian actor over [z, d], blended through the fixed synergy decoder."""

    def __init__(self, obs_dim: int, basis: SynergyBasis, phi: float, hidden: list[int],
                 activation: str = 'relu'):
        count, actuators = basis.matrix.shape
        super().__init__(obs_dim, count + (actuators if phi < 1.0 else 0), hidden,
                         activation=activation)
        self.count, self.sampled = count, self.mean.out_features
        # the decoder: fixed, saved with the weights, never given to an optimiser
        self.register_buffer('basis', torch.as_tensor(basis.matrix, dtype=torch.float32))
        self.register_buffer('offset', torch.as_tensor(basis.offset, dtype=torch.float32))
        self.register_buffer('phi', torch.tensor(float(phi)))

    def blend(self, u: torch.Tensor) -> torch.Tensor:
        """Actuator action in [-1, 1] of sampled values ``u`` = [z, d] in (-1, 1)."""
        synergy = u[..., :self.count] @ self.basis + self.offset
        if self.sampled == self.count:
            return synergy.clamp(-1.0, 1.0)
        return (self.phi * synergy + (1.0 - self.phi) * u[..., self.count:]).clamp(-1.0, 1.0)

    def sample(self, obs: torch.Tensor,
               robot: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Blended action of a reparameterised sample, and the sample's log-probability [B]."""
        sampled, log_prob = tanh_gaussian_sample(*self(obs))
        return self.blend(sampled), log_prob

    def sampled_mean(self, obs: torch.Tensor,
                     robot: torch.Tensor | None = None) -> torch.Tensor:
        """Return the evaluation values u = tanh(mean) = [z, d]: PPO's Gaussian centre."""
        return torch.tanh(self(obs)[0])

    #: PPO samples u around :meth:`sampled_mean`; the robot gets the blend of the sample
    to_action = blend

    def act(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the evaluation action and its synergy values z = tanh(mean)[:L]."""
        u = self.sampled_mean(obs)
        return self.blend(u), u[..., :self.count]

    def deterministic(self, obs: torch.Tensor,
                      robot: torch.Tensor | None = None) -> torch.Tensor:
        """Blended action of tanh of the mean."""
        return self.act(obs)[0]


def same_decoder(basis_file: str, actor: SynergyActor, state: dict, prefix: str, *_) -> None:
    """Refuse weights trained through another decoder than the basis file's (load hook).

    A run is rebuilt from its basis file; a file re-extracted since would pair the weights
    with a decoder (and card statistics) they were not trained with.
    """
    for name in ('basis', 'offset'):
        saved, current = state.get(prefix + name), getattr(actor, name)
        if saved is not None and (saved.shape != current.shape or not torch.equal(
                saved.to(current.device, current.dtype), current)):
            raise ValueError(f'the synergy decoder saved with these weights differs from basis '
                             f'file {basis_file} (changed since the run started?): restore '
                             'that file')


class SynergyPolicy(nn.Module):
    """Export graph: obs [B, N] → (action [B, A], synergy values [B, L])."""

    def __init__(self, normalizer: nn.Module, actor: SynergyActor):
        super().__init__()
        self.normalizer, self.actor = normalizer, actor

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.actor.act(self.normalizer(obs))


@register_policy('sar')
class SARPolicy(PolicyBuilder):
    """SAR-RL: SAC through a fixed synergy basis, blended with direct control by φ."""

    @dataclass
    class Settings:
        """The basis file (``synergies extract``), the blend φ, the MLP widths and activation."""

        basis: str = option('', GIVEN)
        phi: float = option(1.0, UNIT_INTERVAL)
        hidden_sizes: list[int] = option([256, 256], WIDTHS)
        activation: Literal['relu', 'elu'] = 'relu'  # the actor's; the critics stay ReLU

    def __init__(self, context, settings):
        super().__init__(context, settings)
        if len(context.robots) != 1:
            raise ValueError(f"policy 'sar' drives one robot (its basis is that robot's), got "
                             f'{context.names}')
        self.basis = SynergyBasis.load(settings.basis)
        robot, actuators = context.robots[0].name, context.act_dims[0]
        if self.basis.matrix.shape[1] != actuators:
            raise ValueError(f'synergy basis file {settings.basis} decodes to '
                             f'{self.basis.matrix.shape[1]} actuators, robot {robot} has '
                             f'{actuators}')
        self.actor: SynergyActor | None = None

    def make_actor(self, kind: ActorKind) -> nn.Module:
        """Make the Gaussian blended actor (SAC); kept to read its decoder at export."""
        if kind != 'gaussian':
            raise ConfigError("config key 'algorithm': policy 'sar' has a Gaussian actor "
                              '(algorithm: sac or ppo)')
        self.actor = SynergyActor(self.context.obs_dim, self.basis, self.settings.phi,
                                  self.settings.hidden_sizes, self.settings.activation)
        # a partial of a function, not a bound method: copies of the actor stay light
        self.actor.register_load_state_dict_pre_hook(partial(same_decoder, self.settings.basis))
        return self.actor

    def make_ppo_actor(self) -> nn.Module:
        """Return the same actor: PPO samples [z, d] at tanh of its mean (log-std head idles)."""
        return self.make_actor('gaussian')

    def make_critic(self) -> nn.Module:
        """Twin Q MLPs on the blended (applied) action."""
        ctx = self.context
        return TwinCritic(ctx.obs_dim, ctx.act_dim, self.settings.hidden_sizes)

    def sampled_dims(self) -> list[int]:
        """Return the sampled size: L synergy values (+ A direct values when φ < 1)."""
        return [self.basis.count + (self.context.act_dim if self.settings.phi < 1.0 else 0)]

    def export_module(self, actor: nn.Module, normalizer: nn.Module, robot: int) -> nn.Module:
        """``obs`` → ``action``, ``synergy``."""
        return SynergyPolicy(normalizer, actor)

    def export_spec(self, robot: int) -> dict:
        """One input, two outputs; the decoder the graph holds as the card's synergy section."""
        if self.actor is None:
            raise RuntimeError("policy 'sar' has no actor yet")
        ctx, count = self.context, self.basis.count
        decoder = SynergyBasis(self.actor.basis.double().cpu().numpy(),
                               self.actor.offset.double().cpu().numpy(),
                               {**self.basis.fit, 'phi': float(self.actor.phi),
                                'basis_file': self.settings.basis})
        return {'inputs': [{'name': 'obs', 'shape': ['batch', ctx.obs_dims[robot]],
                            'source': 'observation'}],
                'outputs': [{'name': 'action', 'shape': ['batch', ctx.act_dims[robot]],
                             'role': 'action'},
                            {'name': 'synergy', 'shape': ['batch', count],
                             'role': 'synergy_activations'}],
                'synergy': decoder.to_card(), 'tasks': None}
