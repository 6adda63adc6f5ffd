"""SOLAR's export graph (``SynergyPolicyGraph``) with random weights, for several robots.

One graph serves every robot of the set, each with its own synergy structure, discovered from
the limb graph alone (no value preference: that needs a critic). Tests and benchmarks use it
to exercise the multi-robot card, runtime and nodes without training.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from synergy_control.card import BATCH, OPSET, PolicyCard, variable_signature
from synergy_control.export.onnx_export import export_policy
from synergy_control.export.untrained import seeded
from synergy_control.methods.solar.networks import SynergyActor
from synergy_control.methods.solar.policy import SynergyPolicyGraph
from synergy_control.methods.solar.synergies import discover
from synergy_control.robots import get_robot


def export_untrained_set(robots: Sequence[str], out_path: str | Path, *, seed: int = 0,
                         d_model: int = 16) -> PolicyCard:
    """Export one random SOLAR-shaped graph serving every robot of ``robots``; return its card.

    The first robot is the card's default; each robot's synergies are found by affinity
    propagation on its limb graph (no value preference).
    """
    variants = [get_robot(name) for name in robots]
    sections = {robot.name: discover(robot.hop_distances, seed=seed).structure.to_card()
                for robot in variants}
    default = variants[0]
    onnx = {'opset': OPSET, 'inputs': [
        {'name': 'obs', 'shape': [BATCH, 1], 'source': 'observation'},
        {'name': 'membership', 'shape': [1, 1], 'source': 'synergy.membership'}],
        'outputs': [{'name': 'action', 'shape': [BATCH, 1], 'role': 'action'},
                    {'name': 'synergy', 'shape': [BATCH, 1], 'role': 'synergy_activations'}]}
    card = PolicyCard.for_robots(
        variants, name=Path(out_path).stem, method='untrained', obs_mode='modular',
        onnx=variable_signature(onnx),
        synergy={**sections[default.name], 'variants': sections},
        training={'note': 'untrained: random initial weights', 'seed': seed})
    actor = SynergyActor(d_model, heads=2, feedforward=2 * d_model, loading_hidden=8)
    graph = SynergyPolicyGraph(torch.nn.Identity(), seeded(actor, seed, 0.2), True)
    export_policy(graph, card, out_path)
    return card
