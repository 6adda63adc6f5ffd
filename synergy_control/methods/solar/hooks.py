"""SOLAR's re-clustering as a trainer hook: ``hooks: [{name: solar_recluster, every: N}]``.

Every ``every`` environment steps (once the critic has been updated), each training robot's
synergies are re-clustered from ΔQ, the drop of the first critic when one actuator's action
is zeroed, averaged over ``samples`` transitions drawn from that robot's replay (the stored
state and action, as SOLAR's released code does). The new structures are written into every
network of the agent (actor, critics and their targets) and stay frozen until the next call.

Zero-shot robots never contribute data: their ΔQ is borrowed, limb by limb name, from the
training robots measured at the same call (:meth:`Reclusterer.borrowed_delta_q`), so their
structures follow the value information of the trained limbs without a step of their own.

The structures and the history of every attempt are the hook's checkpoint state; the history
is also written to ``synergy_history.json`` in the run directory (the cluster timeline) and
the number of synergies of each robot to TensorBoard as ``synergies/<robot>``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from synergy_control.methods.solar.clustering import Reclusterer
from synergy_control.methods.solar.policy import SolarPolicy, set_structure
from synergy_control.settings import POSITIVE, ConfigError, option
from synergy_control.training.hooks import Hook, register_hook

if TYPE_CHECKING:
    from synergy_control.training.runner import Trainer

HISTORY_FILE = 'synergy_history.json'


def first_critic(trainer: Trainer, index: int):
    """Q1 of robot ``index`` as numpy (observations [N, obs], actions [N, K]) → [N]."""
    agent = trainer.agent
    width = trainer.buffer.act_dim  # the replay's padding (a larger zero-shot robot is not in it)

    @torch.no_grad()
    def q_value(observations: np.ndarray, actions: np.ndarray) -> np.ndarray:
        obs = torch.as_tensor(observations, device=agent.device)
        action = torch.zeros(len(actions), width, device=agent.device)
        action[:, :actions.shape[1]] = torch.as_tensor(actions, device=agent.device)
        robot = torch.tensor(index, device=agent.device)
        return agent.critic(obs, action, robot, first_only=True)[0].cpu().numpy()
    return q_value


@register_hook('solar_recluster')
class Recluster(Hook):
    """Re-cluster every robot's synergies from the critic; structures frozen in between."""

    @dataclass
    class Settings:
        """Transitions per robot for ΔQ (reference 1000) and the preference's factor (1.2)."""

        samples: int = option(1000, POSITIVE)
        preference_scale: float = option(1.0, POSITIVE)

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self.clusterer: Reclusterer | None = None
        self.saved: dict | None = None

    def start(self, trainer: Trainer) -> None:
        """Make the clusterer (restored on resume) and put its structures in force."""
        builder = trainer.agent.builder
        if not isinstance(builder, SolarPolicy) or not builder.clustered:
            raise ConfigError("config key 'hooks': hook 'solar_recluster' needs policy 'solar' "
                              'with a clustered variant (solar, solar_no_preference, '
                              'amorpheus_masked)')
        if self.clusterer is None:  # a second run() of the same trainer keeps its history
            self.clusterer = Reclusterer(
                list(trainer.context.robots),
                use_preference=builder.settings.variant != 'solar_no_preference',
                preference_scale=self.settings.preference_scale, seed=trainer.config.seed)
            if self.saved:
                self.clusterer.load_state_dict(self.saved)
        self._put_in_force(trainer)

    def __call__(self, trainer: Trainer) -> None:
        """Re-cluster the training robots from their data, the zero-shot ones by borrowing."""
        if trainer.agent.updates == 0:  # a critic never trained gives noise, not value
            return
        clusterer, step, context = self.clusterer, trainer.env_steps, trainer.context
        measured = {}
        for name in trainer.buffer.keys():
            index = context.index(name)
            batch = trainer.buffer.sample(self.settings.samples, key=name)
            observations = trainer.agent.normalize(batch.obs).cpu().numpy()
            actions = batch.action[:, :context.act_dims[index]].cpu().numpy()
            clusterer.recluster(step, name, first_critic(trainer, index), observations,
                                actions)
            measured[name] = np.asarray(clusterer.history[-1].delta_q)
        for name in context.names:
            if name not in measured:
                clusterer.assign(step, name, clusterer.borrowed_delta_q(name, measured))
        self._put_in_force(trainer)

    def _put_in_force(self, trainer: Trainer) -> None:
        """Write the structures into every network, their counts and history into the run."""
        for name, structure in self.clusterer.structures.items():
            set_structure(trainer.agent, trainer.context.index(name), structure)
            trainer.log.tb.add_scalar(f'synergies/{name}', structure.count, trainer.env_steps)
        state = self.clusterer.state_dict()
        state['zero_shot'] = [n for n in trainer.context.names if n not in trainer.buffer.keys()]
        path = trainer.run_dir / HISTORY_FILE
        tmp = path.with_suffix('.json.tmp')
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, path)

    def state_dict(self) -> dict:
        """Return the structures in force and the history of every attempt."""
        return self.clusterer.state_dict() if self.clusterer is not None else (self.saved or {})

    def load_state_dict(self, state: dict) -> None:
        """Keep the saved structures for :meth:`start` (or load them at once if started)."""
        self.saved = state
        if self.clusterer is not None:
            self.clusterer.load_state_dict(state)
