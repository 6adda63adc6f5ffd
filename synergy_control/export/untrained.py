"""An untrained (randomly initialised) MLP policy, exported like a trained one.

It exercises the whole export → runtime → ROS path before a trained policy exists, and
gives tests a policy of any robot without training.
"""

from __future__ import annotations

from pathlib import Path

import torch

from synergy_control.card import PolicyCard
from synergy_control.export.onnx_export import export_policy
from synergy_control.robots import get_robot


def export_untrained(robot: str, out_path: str | Path, *, obs_mode: str = 'flat',
                     seed: int = 0, hidden: int = 64) -> PolicyCard:
    """Export a seeded random tanh-MLP policy for ``robot``; returns its card."""
    variant = get_robot(robot)
    card = PolicyCard.for_robot(variant, name=Path(out_path).stem, method='untrained',
                                obs_mode=obs_mode,
                                training={'note': 'untrained: random initial weights',
                                          'seed': seed})
    generator = torch.Generator().manual_seed(seed)
    module = torch.nn.Sequential(torch.nn.Linear(card.observation['size'], hidden),
                                 torch.nn.Tanh(), torch.nn.Linear(hidden, variant.model.nu),
                                 torch.nn.Tanh())
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    export_policy(module, card, out_path)
    return card
