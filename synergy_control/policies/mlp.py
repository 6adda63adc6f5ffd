"""The MLP policy: Linear/ReLU actors and twin critics over the (padded) flat observation.

On a set of robots it is the monolithic baseline of SMP/SOLAR: one network whose inputs and
outputs are padded to the largest morphology. Exported per robot: one input ``obs`` (that
robot's observation), one output ``action``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from torch import nn

from synergy_control.policies.networks import (DeterministicActor, DeterministicPolicy,
                                               GaussianActor, RenormTwinCritic, TwinCritic)
from synergy_control.policies.registry import ActorKind, PolicyBuilder, register_policy
from synergy_control.settings import WIDTHS, option


@register_policy('mlp')
class MLPPolicy(PolicyBuilder):
    """Actor and critics as MLPs of ``hidden_sizes``."""

    @dataclass
    class Settings:
        """Hidden layer widths of the actor and of each critic; the actor's activation."""

        hidden_sizes: list[int] = option([256, 256], WIDTHS)
        activation: Literal['relu', 'elu'] = 'relu'

    def make_actor(self, kind: ActorKind) -> nn.Module:
        """Tanh-squashed deterministic (TD3, PPO's mean) or Gaussian (SAC) MLP actor."""
        ctx, settings = self.context, self.settings
        if kind == 'deterministic':
            return DeterministicActor(ctx.obs_dim, ctx.act_dim, settings.hidden_sizes,
                                      ctx.act_mask, settings.activation)
        return GaussianActor(ctx.obs_dim, ctx.act_dim, settings.hidden_sizes, ctx.act_mask,
                             settings.activation)

    def make_critic(self) -> nn.Module:
        """Twin Q MLPs in one batched module."""
        ctx = self.context
        return TwinCritic(ctx.obs_dim, ctx.act_dim, self.settings.hidden_sizes)

    def make_renorm_critic(self, hidden: Sequence[int], warmup_steps: int) -> nn.Module:
        """Twin batch-renormalised Q MLPs of widths ``hidden`` (CrossQ's critics)."""
        ctx = self.context
        return RenormTwinCritic(ctx.obs_dim, ctx.act_dim, hidden, warmup_steps=warmup_steps)

    def export_module(self, actor: nn.Module, normalizer: nn.Module, robot: int) -> nn.Module:
        """``obs`` of one robot → its ``action``: pad, normalise, act, drop padded columns."""
        ctx = self.context
        return DeterministicPolicy(normalizer, actor, pad=ctx.obs_dim - ctx.obs_dims[robot],
                                   act_dim=ctx.act_dims[robot])

    def export_spec(self, robot: int) -> dict:
        """One input (the observation), one output (the action)."""
        ctx = self.context
        return {'inputs': [{'name': 'obs', 'shape': ['batch', ctx.obs_dims[robot]],
                            'source': 'observation'}],
                'outputs': [{'name': 'action', 'shape': ['batch', ctx.act_dims[robot]],
                             'role': 'action'}],
                'synergy': None, 'tasks': None}
