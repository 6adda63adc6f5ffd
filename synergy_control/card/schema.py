"""The card format's names and graph-size rules, which the model and the validator share.

What feeds each graph input and what each output is, the keys of the ``synergy`` section, the
robot facts a multi-variant card holds per variant, and how a variant's named graph sizes are
bound to its own (:func:`variant_data`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

CARD_FORMAT = 'synergy_control/policy-card/2'
CARD_FORMAT_V1 = 'synergy_control/policy-card/1'
METADATA_KEY = 'synergy_control.card'
OPSET = 18
BATCH = 'batch'
#: What feeds a graph input: the observation, the runtime's current task vector, or a
#: constant read from the card's ``synergy`` section (``synergy.<key>``).
SOURCES = ('observation', 'task_embedding')
SYNERGY_SOURCE = 'synergy.'
#: What a graph output is; the first output is always the action.
ROLES = ('action', 'synergy_activations')
SYNERGY_KEYS = ('method', 'count', 'labels', 'centres', 'membership', 'basis', 'offset', 'fit',
                'variants')
UNIT_NORM_TOLERANCE = 1e-4
#: The robot facts of a card, each from the one implementation (Robot, ObservationBuilder,
#: ActionScaling); a multi-variant card holds them per variant.
ROBOT_FACTS = ('robot_family', 'model_hash', 'joint_names', 'actuator_names', 'observation',
               'action', 'control_period')
#: Names of the graph sizes that vary between the variants of a multi-variant card.
OBSERVATION_SIZE, ACTUATORS, SYNERGIES = 'observation_size', 'actuators', 'synergies'
#: Axes of each synergy.<key> constant, for naming them in a multi-variant graph.
SYNERGY_AXES = {'membership': (ACTUATORS, SYNERGIES), 'basis': (SYNERGIES, ACTUATORS),
                'offset': (ACTUATORS,), 'labels': (ACTUATORS,), 'centres': (SYNERGIES,)}


class CardError(ValueError):
    """A policy card that is missing, malformed or does not fit the robot."""


def variable_signature(onnx: dict[str, Any]) -> dict[str, Any]:
    """Return a graph signature whose robot-dependent sizes are named (multi-variant graph).

    Observation, action, synergy activations and ``synergy.<key>`` constants vary between
    variants; task embeddings do not.
    """
    def named(entry: dict, axes: Sequence[str]) -> dict:
        shape = [BATCH, *axes] if entry['shape'][:1] == [BATCH] else list(axes)
        return {**entry, 'shape': shape}
    axes = {'observation': (OBSERVATION_SIZE,), 'action': (ACTUATORS,),
            'synergy_activations': (SYNERGIES,)}
    inputs = [named(e, SYNERGY_AXES[e['source'][len(SYNERGY_SOURCE):]])
              if e['source'].startswith(SYNERGY_SOURCE)
              else named(e, axes[e['source']]) if e['source'] in axes else dict(e)
              for e in onnx['inputs']]
    outputs = [named(e, axes[e['role']]) for e in onnx['outputs']]
    return {**onnx, 'inputs': inputs, 'outputs': outputs}


def default_onnx(observation_size: int, actuators: int) -> dict[str, Any]:
    """Return the signature of a plain policy: observation in, action out."""
    return {'opset': OPSET,
            'inputs': [{'name': 'obs', 'shape': [BATCH, observation_size],
                        'source': 'observation'}],
            'outputs': [{'name': 'action', 'shape': [BATCH, actuators], 'role': 'action'}]}


def expected_shape(entry: dict[str, Any], data: dict[str, Any]) -> list | None:
    """Shape an input or output must have for this (single-robot) card data; None: unknown."""
    def section(key: str) -> dict:
        value = data.get(key)
        return value if isinstance(value, dict) else {}
    source = entry.get('source', entry.get('role'))
    if isinstance(source, str) and source.startswith(SYNERGY_SOURCE):
        value = section('synergy').get(source[len(SYNERGY_SOURCE):])
        return list(np.shape(value)) if isinstance(value, list) else None
    actuators = data.get('actuator_names')
    size = {'observation': section('observation').get('size'),
            'task_embedding': section('tasks').get('dim'),
            'action': len(actuators) if isinstance(actuators, list) else None,
            'synergy_activations': section('synergy').get('count')}.get(source)
    return None if size is None else [BATCH, size]


def variant_data(data: dict[str, Any], robot: str, where: str) -> dict[str, Any]:
    """Card data of one variant: its facts, its synergy section, its graph sizes bound.

    Each named size must take one value per variant (CardError naming the size).
    """
    single = {key: value for key, value in data.items() if key != 'variants'}
    single.update(data['variants'][robot], robot=robot)
    if data.get('synergy') is not None:  # each variant has its own structure
        single['synergy'] = data['synergy']['variants'][robot]
    bound: dict[str, int] = {}
    onnx = dict(data['onnx'])
    for kind in ('inputs', 'outputs'):
        entries = []
        for entry in onnx[kind]:
            expected, shape = expected_shape(entry, single), list(entry['shape'])
            if expected is not None and len(expected) == len(shape):
                for axis, (declared, size) in enumerate(zip(shape, expected)):
                    if isinstance(declared, str) and declared != BATCH:
                        if bound.setdefault(declared, size) != size:
                            raise CardError(f"{where}: size '{declared}' is {bound[declared]} "
                                            f"and {size} for robot '{robot}'")
                        shape[axis] = size
            entries.append({**entry, 'shape': shape})
        onnx[kind] = entries
    single['onnx'] = onnx
    return single
