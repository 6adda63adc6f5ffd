"""Type and structure checks of a card's data; every error names the key and the file.

Run by :meth:`PolicyCard.from_yaml <synergy_control.card.model.PolicyCard.from_yaml>` on
every card it reads (after the format-1 migration), each variant of a multi-variant card
checked like a single-robot card.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from synergy_control.card.schema import (BATCH, ROBOT_FACTS, ROLES, SOURCES, SYNERGY_KEYS,
                                         SYNERGY_SOURCE, UNIT_NORM_TOLERANCE, CardError,
                                         expected_shape, variant_data)
from synergy_control.observation import MODES
from synergy_control.synergy import StructureError, SynergyStructure


class Validator:
    """Type and structure checks of a card's data; every error names the key and the file."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, key: str, expected: str, value: Any) -> None:
        raise CardError(f"{self.where}: key '{key}': expected {expected}, got {value!r}")

    def require(self, data: dict, key: str, prefix: str, check: Callable[[str, Any], Any]) -> Any:
        if key not in data:
            raise CardError(f"{self.where}: key '{prefix}{key}' is missing")
        return check(f'{prefix}{key}', data[key])

    def mapping(self, key: str, value: Any) -> dict:
        if not isinstance(value, dict):
            self.fail(key, 'a mapping', value)
        return value

    def text(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value:
            self.fail(key, 'a non-empty string', value)
        return value

    def integer(self, key: str, value: Any, low: int = 0, high: int | None = None) -> int:
        if (isinstance(value, bool) or not isinstance(value, int) or value < low
                or (high is not None and value >= high)):
            bound = f' below {high}' if high is not None else ''
            self.fail(key, f'an integer from {low}{bound}', value)
        return value

    def number(self, key: str, value: Any, positive: bool = False) -> float:
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value) or (positive and value <= 0)):
            self.fail(key, 'a positive finite number' if positive else 'a finite number', value)
        return float(value)

    def numbers(self, key: str, value: Any, size: int | None = None) -> list:
        count = f'{size} ' if size is not None else ''
        if (not isinstance(value, list) or (size is not None and len(value) != size)
                or any(isinstance(v, bool) or not isinstance(v, (int, float))
                       or not math.isfinite(v) for v in value)):
            self.fail(key, f'a list of {count}finite numbers', value)
        return value

    def texts(self, key: str, value: Any) -> list:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(key, 'a list of names', value)
        return value

    def matrix(self, key: str, value: Any, rows: int | None, columns: int | None) -> np.ndarray:
        """Check a list of equal-length number rows (``None``: any size, e.g. a variant's K)."""
        if isinstance(value, list) and value and isinstance(value[0], list) and columns is None:
            columns = len(value[0])
        if (not isinstance(value, list) or not value or (rows is not None and len(value) != rows)
                or not all(isinstance(r, list) and len(r) == columns for r in value)):
            self.fail(key, f'a {rows or "K"} x {columns or "A"} matrix', value)
        for i, row in enumerate(value):
            self.numbers(f'{key}[{i}]', row, columns)
        return np.asarray(value, dtype=np.float64)

    # ------------------------------------------------------------------ sections
    def card(self, data: dict) -> None:
        if data.get('variants') is not None:
            self.variants(data)
            return
        for key in ('name', 'method', 'robot', 'robot_family', 'model_hash', 'format'):
            self.text(key, data[key])
        self.texts('joint_names', data['joint_names'])
        actuators = len(self.texts('actuator_names', data['actuator_names']))
        self.observation(self.mapping('observation', data['observation']))
        self.action(self.mapping('action', data['action']), actuators)
        self.number('control_period', data['control_period'], positive=True)
        normalization = self.mapping('normalization', data.get('normalization', {}))
        if not isinstance(normalization.get('baked_into_graph', False), bool):
            self.fail('normalization.baked_into_graph', 'true or false',
                      normalization['baked_into_graph'])
        self.mapping('training', data.get('training', {}))
        if data.get('synergy') is not None:
            self.synergy('synergy', self.mapping('synergy', data['synergy']), actuators,
                         data['actuator_names'])
        if data.get('tasks') is not None:
            self.tasks(self.mapping('tasks', data['tasks']))
        self.signature(self.mapping('onnx', data['onnx']), data)

    def variants(self, data: dict) -> None:
        """Validate a multi-variant card: each variant's card, the default among them."""
        variants = self.mapping('variants', data['variants'])
        robot = self.text('robot', data['robot'])
        if robot not in variants:
            self.fail('variants', f"a mapping that holds the card's robot '{robot}'",
                      sorted(variants))
        for name, facts in variants.items():
            key = f'variants.{name}'
            facts = self.mapping(key, facts)
            if set(facts) != set(ROBOT_FACTS):
                self.fail(key, f'the keys {list(ROBOT_FACTS)}', sorted(facts))
        for key in ROBOT_FACTS:
            if data[key] != variants[robot][key]:
                raise CardError(f"{self.where}: key 'variants.{robot}.{key}' disagrees with the "
                                f"card's '{key}' (the default robot's)")
        onnx = self.mapping('onnx', data['onnx'])
        self.entries('onnx.inputs', self.require(onnx, 'inputs', 'onnx.', self.blocks),
                     'source', named_sizes=True)
        self.entries('onnx.outputs', self.require(onnx, 'outputs', 'onnx.', self.blocks),
                     'role', named_sizes=True)
        synergy = data.get('synergy')
        if synergy is not None:
            self.mapping('synergy', synergy)
            nested = self.mapping('synergy.variants', synergy.get('variants'))
            missing = [name for name in variants if name not in nested]
            if missing:
                self.fail('synergy.variants', f'a structure for each robot (missing {missing})',
                          sorted(nested))
            own = {key: value for key, value in synergy.items() if key != 'variants'}
            if own != nested[robot]:
                raise CardError(f"{self.where}: key 'synergy.variants.{robot}' disagrees with "
                                "the card's 'synergy' (the default robot's)")
        for name in variants:
            Validator(f"{self.where}, robot '{name}'").card(
                variant_data(data, name, self.where))

    def observation(self, spec: dict) -> None:
        mode = self.require(spec, 'mode', 'observation.', self.text)
        if mode not in MODES:
            self.fail('observation.mode', f'one of {list(MODES)}', mode)
        self.require(spec, 'size', 'observation.', lambda k, v: self.integer(k, v, 1))
        self.require(spec, 'velocity_clip', 'observation.',  # null: velocities not clipped
                     lambda k, v: v if v is None else self.number(k, v, positive=True))
        for key in ('needs_ctrl', 'lateral_position'):
            if not isinstance(spec.get(key, False), bool):
                self.fail(f'observation.{key}', 'true or false', spec[key])
        if mode == 'flat':
            layout = self.require(spec, 'layout', 'observation.', self.blocks)
            for i, block in enumerate(layout):
                key = f'observation.layout[{i}]'
                self.mapping(key, block)
                self.require(block, 'term', f'{key}.', self.text)
                self.require(block, 'start', f'{key}.', self.integer)
                self.require(block, 'names', f'{key}.', self.texts)
        else:
            self.require(spec, 'tokens', 'observation.', self.texts)
            self.require(spec, 'token_features', 'observation.', self.texts)

    def blocks(self, key: str, value: Any) -> list:
        if not isinstance(value, list) or not value:
            self.fail(key, 'a non-empty list', value)
        return value

    def action(self, action: dict, actuators: int) -> None:
        self.require(action, 'command_interface', 'action.', self.text)
        self.require(action, 'space', 'action.', lambda k, v: self.numbers(k, v, 2))
        for key in ('ctrl_low', 'ctrl_high', 'gear', 'command_low', 'command_high'):
            self.require(action, key, 'action.', lambda k, v: self.numbers(k, v, actuators))

    def synergy(self, key: str, section: dict, actuators: int | None,
                names: list[str] | None = None) -> None:
        """Validate a synergy structure: labels/membership (clusters) or a basis (SAR).

        The types and sizes are checked here; the rule of a cluster structure (every actuator
        in exactly one synergy, no synergy empty, each centre a member of its own synergy) is
        the structure's own: :meth:`SynergyStructure.from_card`, the parser the runtime and
        the node use too. A ``basis`` (SAR's loadings) is soft: any finite matrix. ``names``:
        the actuators' names, for the errors.
        """
        unknown = sorted(set(section) - set(SYNERGY_KEYS))
        if unknown:
            raise CardError(f"{self.where}: key '{key}' has unknown keys {unknown} "
                            f'(known: {list(SYNERGY_KEYS)}; free-form statistics go in fit)')
        self.require(section, 'method', f'{key}.', self.text)
        count = self.require(section, 'count', f'{key}.', lambda k, v: self.integer(k, v, 1))
        if not {'labels', 'membership', 'basis'} & set(section):
            raise CardError(f"{self.where}: key '{key}' needs 'labels', 'membership' or 'basis'")
        labels = section.get('labels')
        if labels is not None:
            if not isinstance(labels, list) or (actuators is not None
                                                and len(labels) != actuators):
                self.fail(f'{key}.labels', f'a list of {actuators} synergy indices', labels)
            actuators = len(labels)
        if 'membership' in section:
            membership = self.matrix(f'{key}.membership', section['membership'], actuators,
                                     count)
            if not np.all((membership == 0) | (membership == 1)):
                self.fail(f'{key}.membership', 'a 0/1 matrix', section['membership'])
            actuators = len(membership)
        if 'basis' in section:  # SAR's decoder: activations = z @ basis + offset
            basis = self.matrix(f'{key}.basis', section['basis'], count, actuators)
            actuators = basis.shape[1]
            self.numbers(f'{key}.offset', section.get('offset'), actuators)
        if SynergyStructure.clustered(section):
            try:
                SynergyStructure.from_card(section, key, names)
            except StructureError as error:
                raise CardError(f'{self.where}: {error}') from error
        if section.get('fit') is not None:
            self.mapping(f'{key}.fit', section['fit'])
        if section.get('variants') is not None:  # per-robot structures of a morphology set
            for robot, nested in self.mapping(f'{key}.variants', section['variants']).items():
                where = f'{key}.variants.{robot}'
                self.synergy(where, self.mapping(where, nested), None)

    def tasks(self, section: dict) -> None:
        dim = self.require(section, 'dim', 'tasks.', lambda k, v: self.integer(k, v, 1))
        embeddings = self.require(section, 'embeddings', 'tasks.', self.mapping)
        if not embeddings:
            self.fail('tasks.embeddings', 'at least one named task', embeddings)
        for name, vector in embeddings.items():
            key = f'tasks.embeddings.{name}'
            self.numbers(key, vector, dim)
            if abs(np.linalg.norm(vector) - 1.0) > UNIT_NORM_TOLERANCE:
                self.fail(key, 'a unit-norm vector', vector)
        default = self.require(section, 'default', 'tasks.', self.text)
        if default not in embeddings:
            self.fail('tasks.default', f'one of {sorted(embeddings)}', default)

    def signature(self, onnx: dict, data: dict) -> None:
        """Named inputs and outputs, consistent with the card's other sections."""
        self.require(onnx, 'opset', 'onnx.', lambda k, v: self.integer(k, v, 1))
        inputs = self.require(onnx, 'inputs', 'onnx.', self.blocks)
        outputs = self.require(onnx, 'outputs', 'onnx.', self.blocks)
        self.entries('onnx.inputs', inputs, 'source')
        for i, entry in enumerate(inputs):
            key, source = f'onnx.inputs[{i}]', entry['source']
            expected = expected_shape(entry, data)
            if source.startswith(SYNERGY_SOURCE):
                if expected is None:
                    self.fail(f'{key}.source', 'a synergy.<key> the card has', source)
            elif source in SOURCES:
                if expected is None:
                    self.fail(f'{key}.source', "a source the card has (no 'tasks' section)",
                              source)
            else:
                self.fail(f'{key}.source', f'one of {list(SOURCES)} or synergy.<key>', source)
            if entry['shape'] != expected:
                self.fail(f'{key}.shape', str(expected), entry['shape'])
        if [e['source'] for e in inputs].count('observation') != 1:
            self.fail('onnx.inputs', 'exactly one input with source observation', inputs)
        self.entries('onnx.outputs', outputs, 'role')
        for i, entry in enumerate(outputs):
            key, role = f'onnx.outputs[{i}]', entry['role']
            if role not in ROLES or (i == 0) != (role == 'action'):
                self.fail(f'{key}.role', "'action' first, then 'synergy_activations'", role)
            expected = expected_shape(entry, data)
            if expected is None:
                self.fail(f'{key}.role', "a role the card has (no 'synergy' section)", role)
            if entry['shape'] != expected:
                self.fail(f'{key}.shape', str(expected), entry['shape'])
        if len({e['role'] for e in outputs}) != len(outputs):
            self.fail('onnx.outputs', 'each role at most once', outputs)

    def entries(self, key: str, entries: list, kind: str, named_sizes: bool = False) -> None:
        """Name, shape and source/role of each entry; ``named_sizes``: sizes may be names."""
        names = set()
        for i, entry in enumerate(entries):
            where = f'{key}[{i}]'
            self.mapping(where, entry)
            if set(entry) != {'name', 'shape', kind}:
                self.fail(where, f"keys name, shape, {kind}", sorted(entry))
            names.add(self.text(f'{where}.name', entry['name']))
            self.text(f'{where}.{kind}', entry[kind])
            shape = entry['shape']
            if not isinstance(shape, list) or not all(
                    (d == BATCH and j == 0 or named_sizes and d != BATCH and d.isidentifier())
                    if isinstance(d, str)
                    else not isinstance(d, bool) and isinstance(d, int) and d > 0
                    for j, d in enumerate(shape)):
                sizes = 'sizes or size names' if named_sizes else 'sizes'
                self.fail(f'{where}.shape', f"a list of {sizes} ('{BATCH}' first if batched)",
                          shape)
        if len(names) != len(entries):
            self.fail(key, 'distinct names', [e['name'] for e in entries])
