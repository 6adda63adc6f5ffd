"""Policy registry: a config's ``policy:`` section names an architecture, its builder makes it.

Modelled on stable-baselines3 (``policy_aliases`` names a policy class whose ``make_actor`` /
``make_critic`` build the networks): TD3 and SAC never construct networks themselves, they ask
the builder registered under ``policy.name``. A new architecture is a :class:`PolicyBuilder`
subclass plus one ``@register_policy('name')`` line; a method inside this package also adds its
module to :data:`BUILTIN_POLICIES`, so that naming it in a config imports it.

Network conventions (what TD3/SAC call), for batches padded to the largest robot:

- ``robot``: LongTensor [B] of indices into :attr:`PolicyContext.robots`, or None when the
  policy drives one robot. Observations are zero-padded to ``context.obs_dim``, actions to
  ``context.act_dim``.
- deterministic actor: ``actor(obs, robot) -> action [B, A]`` in [-1, 1], and
  ``actor.deterministic(obs, robot)``; padded action columns must come out 0.
- Gaussian actor: ``actor.sample(obs, robot) -> (action [B, A], log_prob [B])`` (log-prob over
  the robot's own action columns only) and ``actor.deterministic(obs, robot)``.
- critic: ``critic(obs, action, robot, first_only=False) -> Q [n_critics, B]``; with
  ``first_only`` only the first critic's Q [1, B] (TD3's actor loss reads no other; a critic
  whose heads run apart then skips the others, one fused over its heads may slice its output).
- PPO actor (:meth:`PolicyBuilder.make_ppo_actor`): its Gaussian's mean is
  ``actor.deterministic(obs, robot)`` and it samples actions. An actor that samples in another
  space (SAR's synergy values) is a :class:`SampledSpaceActor`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from synergy_control.envs import split_env_id
from synergy_control.observation import ObservationBuilder
from synergy_control.registry import Registry
from synergy_control.robots import Robot, get_robot
from synergy_control.settings import ConfigError

ActorKind = Literal['deterministic', 'gaussian']


@runtime_checkable
class SampledSpaceActor(Protocol):
    """A PPO actor whose Gaussian lives in a space of its own, not the actions (SAR's).

    PPO samples u around :meth:`sampled_mean` and the robot gets :meth:`to_action` of the
    sample; ``to_action(sampled_mean(obs)) == deterministic(obs)``, so the exported graph (the
    deterministic actor) is the mean of what PPO trained.
    """

    def sampled_mean(self, obs: torch.Tensor,
                     robot: torch.Tensor | None = None) -> torch.Tensor:
        """Return the Gaussian's centre u [B, S] for normalised observations."""

    def to_action(self, sampled: torch.Tensor) -> torch.Tensor:
        """Return the action [B, A] in [-1, 1] that the robot gets for samples u [B, S]."""


@dataclass(frozen=True)
class PolicyContext:
    """What a builder may read: the robots a policy drives and how each one is observed.

    An entry is a robot variant, or a robot on one task of a multi-task run (EAR: the same
    robot once per task; :attr:`tasks` says which, the batch's robot index selects it).

    ``robots`` lists the training robots first, then the zero-shot ones: a builder sizes its
    networks for all of them (a held-out robot must be drivable at evaluation) but is never
    given data of a zero-shot robot. Robot ``i`` of a batch is ``robots[i]``. The limb
    structure is the robots': ``robots[i].limbs`` (tree in pre-order, torso first, one actuated
    hinge per limb; the modular observation has one token per limb in this order) and
    ``robots[i].hop_distances``.
    """

    robots: tuple[Robot, ...]
    observers: tuple[ObservationBuilder, ...]
    num_train: int
    env_ids: tuple[str, ...] = ()

    @classmethod
    def build(cls, train: Sequence[str], zero_shot: Sequence[str] = (),
              obs_mode: str = 'flat') -> PolicyContext:
        """Context of named robot variants observed in ``obs_mode``."""
        names = (*train, *zero_shot)
        robots = tuple(get_robot(split_env_id(name)[0]) for name in names)
        return cls(robots, tuple(ObservationBuilder(r, obs_mode) for r in robots), len(train),
                   names)

    @cached_property
    def names(self) -> list[str]:
        """Environment ids (robot names, ``robot@task`` for a multi-task run), in index order."""
        return list(self.env_ids) if self.env_ids else [r.name for r in self.robots]

    @cached_property
    def tasks(self) -> list[str | None]:
        """Each entry's task (None: the robot's default task), in index order."""
        return [split_env_id(name)[1] for name in self.names]

    @cached_property
    def obs_dims(self) -> list[int]:
        """Each robot's own observation size."""
        return [o.size for o in self.observers]

    @cached_property
    def act_dims(self) -> list[int]:
        """Each robot's own action size (its actuators)."""
        return [int(r.model.nu) for r in self.robots]

    @property
    def obs_dim(self) -> int:
        """Padded observation size: the largest robot's."""
        return max(self.obs_dims)

    @property
    def act_dim(self) -> int:
        """Padded action size: the largest robot's."""
        return max(self.act_dims)

    @cached_property
    def act_mask(self) -> np.ndarray | None:
        """[robots, act_dim] 1/0 of real action columns; None when no robot is padded."""
        if len(set(self.act_dims)) == 1:
            return None
        return (np.arange(self.act_dim) < np.array(self.act_dims)[:, None]).astype(np.float32)

    def index(self, robot: str) -> int:
        """Index of a robot variant by name (ValueError naming the choices)."""
        if robot not in self._indices:
            raise ValueError(f"robot '{robot}' is not driven by this policy "
                             f"({', '.join(self.names)})")
        return self._indices[robot]

    @cached_property
    def _indices(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}


class PolicyBuilder:
    """Makes the networks of one architecture; subclass, set ``Settings``, register.

    ``Settings`` is a dataclass of the architecture's options, validated like the rest of the
    config (errors name ``policy.<field>``); declare ranges with
    :func:`synergy_control.settings.option`.
    """

    @dataclass
    class Settings:
        """No options."""

    def __init__(self, context: PolicyContext, settings: Any):
        self.context, self.settings = context, settings

    def make_actor(self, kind: ActorKind) -> nn.Module:
        """Return a new actor: ``deterministic`` (TD3) or ``gaussian`` (SAC)."""
        raise NotImplementedError

    def make_critic(self) -> nn.Module:
        """Return new twin critics."""
        raise NotImplementedError

    def make_ppo_actor(self) -> nn.Module:
        """Return the actor PPO trains as its Gaussian's mean (default: the deterministic one).

        PPO's log-std is its own parameter over :meth:`sampled_dims`; the actor's own log-std
        head, where it has one, is not used.
        """
        return self.make_actor('deterministic')

    def make_renorm_critic(self, hidden: Sequence[int], warmup_steps: int) -> nn.Module:
        """Return twin critics with batch renormalisation (CrossQ's; no target copy)."""
        raise ConfigError(f"config key 'algorithm': policy '{type(self).__name__}' has no "
                          'batch-renormalised critic for crossq')

    def sampled_dims(self) -> list[int]:
        """Each entry's size of the space its Gaussian actor samples in (default: its actions).

        SAC's default target entropy is minus it (SAR samples synergy values, not actions).
        """
        return self.context.act_dims

    def export_module(self, actor: nn.Module, normalizer: nn.Module, robot: int) -> nn.Module:
        """Float32 CPU module for one robot: the card's inputs in order → its outputs in order."""
        raise NotImplementedError

    def export_spec(self, robot: int) -> dict:
        """Return the card sections of :meth:`export_module` (docs/architecture.md).

        Named inputs and outputs, and the card's synergy and tasks sections: a ``synergy.<key>``
        input is fed from the synergy section itself, the one copy of each constant.
        """
        raise NotImplementedError


# name -> module that registers it: one line per architecture shipped in this package
BUILTIN_POLICIES: dict[str, str] = {
    'mlp': 'synergy_control.policies.mlp',
    'ear': 'synergy_control.methods.ear.policy',
    'sar': 'synergy_control.methods.sar.policy',
    'solar': 'synergy_control.methods.solar.policy',
}
POLICIES: Registry[type[PolicyBuilder]] = Registry('policy', BUILTIN_POLICIES)
register_policy = POLICIES.register
get_policy = POLICIES.get
