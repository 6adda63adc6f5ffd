"""An untrained (randomly initialised) MLP policy, exported like a trained one.

It exercises the whole export → runtime → ROS path before a trained policy exists, and
gives tests a policy of any robot without training. With ``synergies`` and ``tasks`` it is a
policy of contract v2's full shape: inputs ``obs``, ``task`` (a task embedding) and
``membership`` (a constant of the card), outputs ``action`` and ``synergy`` (activations).
SOLAR's untrained graph for several robots is :mod:`synergy_control.methods.solar.untrained`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from synergy_control.card import BATCH, OPSET, PolicyCard
from synergy_control.export.onnx_export import export_policy
from synergy_control.robots import get_robot
from synergy_control.synergy import SynergyStructure


class SynergyTaskPolicy(torch.nn.Module):
    """Synergy activations z = tanh(MLP([obs, task])); actions a = tanh(membership · z)."""

    def __init__(self, obs: int, task: int, synergies: int, hidden: int):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(obs + task, hidden), torch.nn.Tanh(),
                                        torch.nn.Linear(hidden, synergies), torch.nn.Tanh())

    def forward(self, obs: torch.Tensor, task: torch.Tensor,
                membership: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.body(torch.cat([obs, task], dim=-1))
        return torch.tanh(z @ membership.T), z


def seeded(module: torch.nn.Module, seed: int, scale: float = 0.3) -> torch.nn.Module:
    """Fill every parameter with seeded normal noise (the same policy from the same seed)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
    return module


def _synergy_sections(size: int, actuators: int, synergies: int, tasks: int) -> dict:
    """Card sections of a SynergyTaskPolicy: contiguous actuator groups, one-hot tasks.

    Nothing is discovered: each group's centre is its first actuator, as the card's ``fit``
    says (:meth:`SynergyStructure.contiguous`).
    """
    structure = SynergyStructure.contiguous(actuators, synergies)
    return {
        'synergy': structure.to_card('untrained-contiguous',
                                     centres='the first actuator of each group'),
        'tasks': {'dim': tasks, 'default': 'task_0',
                  'embeddings': {f'task_{i}': np.eye(tasks)[i].tolist() for i in range(tasks)}},
        'onnx': {'opset': OPSET, 'inputs': [
            {'name': 'obs', 'shape': [BATCH, size], 'source': 'observation'},
            {'name': 'task', 'shape': [BATCH, tasks], 'source': 'task_embedding'},
            {'name': 'membership', 'shape': [actuators, synergies],
             'source': 'synergy.membership'}],
            'outputs': [{'name': 'action', 'shape': [BATCH, actuators], 'role': 'action'},
                        {'name': 'synergy', 'shape': [BATCH, synergies],
                         'role': 'synergy_activations'}]}}


def export_untrained(robot: str, out_path: str | Path, *, obs_mode: str = 'flat',
                     seed: int = 0, hidden: int = 64, synergies: int = 0,
                     tasks: int = 2) -> PolicyCard:
    """Export a seeded random tanh-MLP policy for ``robot``; returns its card.

    ``synergies`` > 0 makes a :class:`SynergyTaskPolicy` with that many synergies and
    ``tasks`` one-hot task embeddings.
    """
    variant = get_robot(robot)
    card = PolicyCard.for_robot(variant, name=Path(out_path).stem, method='untrained',
                                obs_mode=obs_mode,
                                training={'note': 'untrained: random initial weights',
                                          'seed': seed})
    size, actuators = card.observation['size'], variant.model.nu
    if synergies:
        for key, section in _synergy_sections(size, actuators, synergies, tasks).items():
            setattr(card, key, section)
        module = SynergyTaskPolicy(size, tasks, synergies, hidden)
    else:
        module = torch.nn.Sequential(torch.nn.Linear(size, hidden), torch.nn.Tanh(),
                                     torch.nn.Linear(hidden, actuators), torch.nn.Tanh())
    export_policy(seeded(module, seed), card, out_path)
    return card
