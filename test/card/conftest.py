"""Cards the card tests edit: a walker card, one with every optional section, a set card."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from synergy_control.card import PolicyCard, variable_signature
from synergy_control.robots import get_robot
from synergy_control.synergy import SynergyStructure


def walker_card(**extra) -> PolicyCard:
    return PolicyCard.for_robot(get_robot('walker_7_main'), name='x', method='m',
                                obs_mode='flat', **extra)


def synergy_card() -> PolicyCard:
    """A card with every optional section: synergies, tasks, four named inputs, two outputs."""
    membership = [[1, 0], [1, 0], [1, 0], [0, 1], [0, 1], [0, 1]]
    return walker_card(
        synergy={'method': 'solar', 'count': 2, 'labels': [0, 0, 0, 1, 1, 1], 'centres': [1, 4],
                 'membership': membership, 'fit': {'converged': True}},
        tasks={'dim': 2, 'default': 'run', 'embeddings': {'run': [1.0, 0.0], 'hop': [0.0, 1.0]}},
        onnx={'opset': 18,
              'inputs': [{'name': 'obs', 'shape': ['batch', 17], 'source': 'observation'},
                         {'name': 'task', 'shape': ['batch', 2], 'source': 'task_embedding'},
                         {'name': 'membership', 'shape': [6, 2],
                          'source': 'synergy.membership'}],
              'outputs': [{'name': 'action', 'shape': ['batch', 6], 'role': 'action'},
                          {'name': 'synergy', 'shape': ['batch', 2],
                           'role': 'synergy_activations'}]})


#: Each walker's synergy labels and centres in the set card (the default robot first).
STRUCTURES = {'walker_4_main': ((0, 0, 1), (0, 2)),
              'walker_7_main': ((0, 0, 0, 1, 1, 1), (1, 4)),
              'walker_3_main': ((0, 1), (0, 1))}
SET = list(STRUCTURES)


def set_card() -> PolicyCard:
    """A card of one graph serving three walkers, each with its own synergies (SOLAR's shape)."""
    robots = [get_robot(name) for name in SET]
    sections = {r.name: SynergyStructure(*STRUCTURES[r.name]).to_card() for r in robots}
    onnx = {'opset': 18, 'inputs': [
        {'name': 'obs', 'shape': ['batch', 1], 'source': 'observation'},
        {'name': 'membership', 'shape': [1, 1], 'source': 'synergy.membership'}],
        'outputs': [{'name': 'action', 'shape': ['batch', 1], 'role': 'action'},
                    {'name': 'synergy', 'shape': ['batch', 1], 'role': 'synergy_activations'}]}
    return PolicyCard.for_robots(robots, name='x', method='m', obs_mode='modular',
                                 onnx=variable_signature(onnx),
                                 synergy={**sections[SET[0]], 'variants': sections})


@pytest.fixture(name='walker_card')
def walker_card_factory() -> Callable[..., PolicyCard]:
    """Make walker_7_main's plain card (extra sections as keywords)."""
    return walker_card


@pytest.fixture(name='synergy_card')
def synergy_card_factory() -> Callable[[], PolicyCard]:
    """Make a card with every optional section."""
    return synergy_card


@pytest.fixture(name='set_card')
def set_card_factory() -> Callable[[], PolicyCard]:
    """Make a card of one graph serving three walkers."""
    return set_card


@pytest.fixture
def set_structures() -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """Each robot of the set card: its synergy labels and centres."""
    return STRUCTURES
