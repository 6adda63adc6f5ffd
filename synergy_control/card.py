"""The policy card: everything needed to run an exported policy on a robot (torch-free).

Stored as YAML in the ONNX model's ``metadata_props`` (key ``synergy_control.card``) and as a
readable ``.card.yaml`` beside the model. Three layers of checks, each naming what is wrong:

* :meth:`PolicyCard.from_yaml` validates types and structure (every error names the key and
  the file), including the ``synergy`` and ``tasks`` sections and the graph signature;
* :meth:`PolicyCard.check_robot` refuses a card that does not fit the robot (joints, the whole
  observation spec, action scaling, model hash, control period);
* :meth:`PolicyCard.check_graph` refuses a graph whose named inputs and outputs disagree with
  the card (the runtime and the exporter both call it).

One card may serve several robot variants with one graph (a morphology set's policy): its
``variants`` section holds each variant's robot facts (derived, like the top-level ones, from
the robot itself), ``synergy.variants`` each variant's synergy structure, and the graph's
variable sizes are named (``[batch, observation_size]``). :meth:`PolicyCard.variant` is the
single-robot card of one variant; the top-level facts are those of the default variant.

Format 2 declares the graph's named inputs (each with what feeds it) and outputs (each with
its role); cards of format 1 (one ``obs`` input) are migrated on read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from synergy_control.actions import ActionScaling
from synergy_control.observation import MODES, ObservationBuilder
from synergy_control.robots import Robot

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


def robot_facts(robot: Robot, obs_mode: str) -> dict[str, Any]:
    """Return the card's facts of ``robot``, from the robot itself (one source of truth)."""
    return {'robot_family': robot.family.name, 'model_hash': robot.model_hash,
            'joint_names': list(robot.joint_names), 'actuator_names': list(robot.actuator_names),
            'observation': ObservationBuilder(robot, obs_mode).spec(),
            'action': ActionScaling.from_robot(robot).to_dict(),
            'control_period': robot.control_period}


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


@dataclass
class PolicyCard:
    """Metadata of an exported policy (see module docstring)."""

    name: str
    method: str
    robot: str
    robot_family: str
    model_hash: str
    joint_names: list[str]
    actuator_names: list[str]
    observation: dict[str, Any]
    action: dict[str, Any]
    control_period: float
    onnx: dict[str, Any]
    normalization: dict[str, Any] = field(default_factory=lambda: {'baked_into_graph': False})
    synergy: dict[str, Any] | None = None
    tasks: dict[str, Any] | None = None
    variants: dict[str, dict[str, Any]] | None = None
    training: dict[str, Any] = field(default_factory=dict)
    format: str = CARD_FORMAT

    @classmethod
    def for_robot(cls, robot: Robot, *, name: str, method: str, obs_mode: str,
                  **extra: Any) -> 'PolicyCard':
        """Make a card whose robot facts come from the robot itself (one source of truth).

        Without an ``onnx`` section the graph is the plain one (observation → action).
        """
        facts = robot_facts(robot, obs_mode)
        extra.setdefault('onnx', default_onnx(facts['observation']['size'], robot.model.nu))
        return cls(name=name, method=method, robot=robot.name, **facts, **extra)

    @classmethod
    def for_robots(cls, robots: Sequence[Robot], *, name: str, method: str, obs_mode: str,
                   onnx: dict[str, Any], **extra: Any) -> 'PolicyCard':
        """Make one card for a graph that serves every robot of ``robots``.

        The first robot is the default (the top-level facts); ``onnx`` names the sizes that
        vary (:func:`variable_signature`); a ``synergy`` section holds each robot's structure
        under ``variants``.
        """
        card = cls.for_robot(robots[0], name=name, method=method, obs_mode=obs_mode,
                             onnx=onnx, **extra)
        card.variants = {robot.name: robot_facts(robot, obs_mode) for robot in robots}
        return card

    @property
    def robots(self) -> list[str]:
        """Names of the robots this card serves (the default first)."""
        return [self.robot, *(name for name in self.variants or () if name != self.robot)]

    def variant(self, robot: str) -> 'PolicyCard':
        """Return the single-robot card of ``robot``: its facts, synergies and graph sizes.

        A card without variants is its own only variant (:meth:`check_robot` then reports
        what does not fit another robot). CardError names the robots a card serves.
        """
        if self.variants is None:
            return self
        if robot not in self.variants:
            raise CardError(f"policy '{self.name}' serves robots {self.robots}, not '{robot}'")
        return PolicyCard(**_variant_data(asdict(self), robot, f'policy card {self.name}'))

    def to_yaml(self) -> str:
        """YAML text of the card."""
        return yaml.safe_dump(asdict(self), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str, source: str | Path = '<text>') -> 'PolicyCard':
        """Parse and validate a card; CardError names the key and ``source`` (the file)."""
        where = f'policy card {source}'
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise CardError(f'{where} is not valid YAML: {error}') from error
        if not isinstance(data, dict):
            raise CardError(f'{where} must be a mapping, got {type(data).__name__}')
        if data.get('format') == CARD_FORMAT_V1:
            data = _migrate_v1(data, where)
        if data.get('format') != CARD_FORMAT:
            raise CardError(f"{where}: key 'format' is {data.get('format')!r}, expected "
                            f"'{CARD_FORMAT}' (or '{CARD_FORMAT_V1}')")
        names = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise CardError(f'{where} has unknown keys {unknown}')
        missing = [k for k, f in names.items()
                   if f.default is MISSING and f.default_factory is MISSING and k not in data]
        if missing:
            raise CardError(f'{where} lacks keys {missing}')
        _Validator(where).card(data)
        return cls(**data)

    def save(self, path: str | Path) -> None:
        """Write the readable YAML copy."""
        Path(path).write_text(self.to_yaml())

    # ------------------------------------------------------------------ graph signature
    def input_of(self, source: str) -> dict[str, Any] | None:
        """Return the declared input fed by ``source`` (e.g. 'task_embedding'), if any."""
        return next((i for i in self.onnx['inputs'] if i['source'] == source), None)

    def output_of(self, role: str) -> dict[str, Any] | None:
        """Return the declared output with ``role`` (e.g. 'synergy_activations'), if any."""
        return next((o for o in self.onnx['outputs'] if o['role'] == role), None)

    def constant(self, source: str) -> np.ndarray:
        """Return the float32 value of a ``synergy.<key>`` input, read from this card."""
        return np.asarray(self.synergy[source[len(SYNERGY_SOURCE):]], dtype=np.float32)

    def check_graph(self, inputs: Sequence[tuple[str, Sequence]],
                    outputs: Sequence[tuple[str, Sequence]]) -> None:
        """Raise CardError unless the graph's (name, shape) inputs and outputs match the card.

        Names, order and ranks must agree; a fixed size on either side must equal the other.
        """
        problems = []
        for kind, declared, actual in (('input', self.onnx['inputs'], inputs),
                                       ('output', self.onnx['outputs'], outputs)):
            names = [d['name'] for d in declared]
            if [name for name, _ in actual] != names:
                problems.append(f'{kind}s {[name for name, _ in actual]} != card {names}')
                continue
            for entry, (name, shape) in zip(declared, actual):
                shape = list(shape)
                if len(shape) != len(entry['shape']) or any(
                        isinstance(a, int) and isinstance(b, int) and a != b
                        for a, b in zip(shape, entry['shape'])):
                    problems.append(f"{kind} '{name}' has shape {shape}, card {entry['shape']}")
        if problems:
            raise CardError(f"graph of policy '{self.name}' does not match its card: "
                            + '; '.join(problems))

    # ------------------------------------------------------------------ robot
    def check_robot(self, robot: Robot) -> None:
        """Raise CardError naming every mismatch between this card and ``robot``.

        A multi-variant card checks the robot against the facts of its variant.
        """
        if self.variants is not None:
            self.variant(robot.name).check_robot(robot)
            return
        problems = []
        if list(robot.joint_names) != list(self.joint_names):
            missing = [j for j in self.joint_names if j not in robot.joint_names]
            extra = [j for j in robot.joint_names if j not in self.joint_names]
            problems.append(f'joint names differ: policy {self.joint_names}, robot '
                            f'{robot.joint_names} (policy joints missing on robot: {missing}; '
                            f'robot joints unknown to policy: {extra})')
        try:
            expected = ObservationBuilder(robot, self.observation['mode']).spec()
        except ValueError as error:
            problems.append(f'observation: {error}')
        else:
            for key in sorted(set(expected) | set(self.observation)):
                if self.observation.get(key) != expected.get(key):
                    problems.append(f"observation '{key}' {self.observation.get(key)} != "
                                    f"robot's {expected.get(key)}")
        for key, value in ActionScaling.from_robot(robot).to_dict().items():
            recorded = self.action[key]
            if not (recorded == value if isinstance(value, str) else
                    np.shape(recorded) == np.shape(value) and np.allclose(recorded, value)):
                problems.append(f'action {key} {recorded} != robot {value}')
        if self.model_hash != robot.model_hash:
            problems.append(f'model hash {self.model_hash} != robot {robot.name} hash '
                            f'{robot.model_hash} (trained on a different MJCF)')
        if abs(self.control_period - robot.control_period) > 1e-9:
            problems.append(f'control period {self.control_period} != robot '
                            f'{robot.control_period}')
        if problems:
            raise CardError(f"policy '{self.name}' does not fit robot '{robot.name}': "
                            + '; '.join(problems))


def _expected_shape(entry: dict[str, Any], data: dict[str, Any]) -> list | None:
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


def _variant_data(data: dict[str, Any], robot: str, where: str) -> dict[str, Any]:
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
            expected, shape = _expected_shape(entry, single), list(entry['shape'])
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


def _migrate_v1(data: dict[str, Any], where: str) -> dict[str, Any]:
    """Read a format-1 card (one ``obs`` input; ``action`` and optional ``synergy`` outputs)."""
    data = dict(data)
    if data.pop('task_embeddings', None) is not None:
        raise CardError(f"{where}: key 'task_embeddings' of a format-1 card cannot be migrated; "
                        're-export the policy')
    old = data.get('onnx')
    if not isinstance(old, dict) or old.get('outputs') not in (['action'], ['action', 'synergy']):
        raise CardError(f"{where}: key 'onnx': expected a mapping with 'input' and 'outputs' "
                        f"['action'] or ['action', 'synergy'], got {old!r}")
    roles = dict(zip(old['outputs'], ROLES))
    keys = ('actuator_names', 'synergy', 'observation')
    actuators, synergy, observation = (data.get(k) for k in keys)
    widths = {'action': len(actuators) if isinstance(actuators, list) else None,
              'synergy': synergy.get('count') if isinstance(synergy, dict) else None}
    size = observation.get('size') if isinstance(observation, dict) else None
    data['onnx'] = {'opset': old.get('opset', OPSET),
                    'inputs': [{'name': old.get('input', 'obs'), 'shape': [BATCH, size],
                                'source': 'observation'}],
                    'outputs': [{'name': n, 'shape': [BATCH, widths.get(n)], 'role': r}
                                for n, r in roles.items()]}
    data['format'] = CARD_FORMAT
    return data


class _Validator:
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
            _Validator(f"{self.where}, robot '{name}'").card(
                _variant_data(data, name, self.where))

    def observation(self, spec: dict) -> None:
        mode = self.require(spec, 'mode', 'observation.', self.text)
        if mode not in MODES:
            self.fail('observation.mode', f'one of {list(MODES)}', mode)
        self.require(spec, 'size', 'observation.', lambda k, v: self.integer(k, v, 1))
        self.require(spec, 'velocity_clip', 'observation.',  # null: velocities not clipped
                     lambda k, v: v if v is None else self.number(k, v, positive=True))
        if not isinstance(spec.get('needs_ctrl', False), bool):
            self.fail('observation.needs_ctrl', 'true or false', spec['needs_ctrl'])
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

        A cluster structure (``labels`` / ``membership``) must be able to drive the robot:
        every actuator in exactly one synergy, no synergy empty, each centre a member of its
        own synergy. A ``basis`` (SAR's loadings) is soft: any finite matrix. ``names``: the
        actuators' names, for the errors.
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
            for i, label in enumerate(labels):
                self.integer(f'{key}.labels[{i}]', label, 0, count)
            self.one_synergy_each(f'{key}.labels', np.eye(count)[labels], names)
            actuators = len(labels)
        if 'membership' in section:
            membership = self.matrix(f'{key}.membership', section['membership'], actuators,
                                     count)
            if not np.all((membership == 0) | (membership == 1)):
                self.fail(f'{key}.membership', 'a 0/1 matrix', section['membership'])
            if labels is None:
                self.one_synergy_each(f'{key}.membership', membership, names)
                labels = membership.argmax(axis=1).tolist()
            elif not np.array_equal(membership, np.eye(count)[labels]):
                raise CardError(f"{self.where}: key '{key}.membership' disagrees with "
                                f"'{key}.labels'")
            actuators = len(membership)
        if 'basis' in section:  # SAR's decoder: activations = z @ basis + offset
            basis = self.matrix(f'{key}.basis', section['basis'], count, actuators)
            actuators = basis.shape[1]
            self.numbers(f'{key}.offset', section.get('offset'), actuators)
        centres = section.get('centres')
        if centres is not None:
            if not isinstance(centres, list) or len(centres) != count:
                self.fail(f'{key}.centres', f'a list of {count} actuator indices', centres)
            for i, centre in enumerate(centres):
                self.integer(f'{key}.centres[{i}]', centre, 0, actuators)
            if labels is not None and any(labels[c] != i for i, c in enumerate(centres)):
                self.fail(f'{key}.centres', f'each synergy centred on one of its own actuators '
                          f'(labels {labels})', centres)
        if section.get('fit') is not None:
            self.mapping(f'{key}.fit', section['fit'])
        if section.get('variants') is not None:  # per-robot structures of a morphology set
            for robot, nested in self.mapping(f'{key}.variants', section['variants']).items():
                where = f'{key}.variants.{robot}'
                self.synergy(where, self.mapping(where, nested), None)

    def one_synergy_each(self, key: str, membership: np.ndarray,
                         names: list[str] | None) -> None:
        """Refuse a K x L cluster membership that leaves a joint dead or drives it twice.

        An all-zero membership commands zero everywhere; an actuator in no synergy never
        moves; one in two gets two synergies' activations at once; an empty synergy is an
        output that drives nothing.
        """
        def actuators(indices: np.ndarray) -> str:
            return ', '.join(f"{i} ('{names[i]}')" if names and i < len(names) else str(i)
                             for i in indices.tolist())

        if not membership.any():
            raise CardError(f"{self.where}: key '{key}' is all zero: no actuator would move")
        per_actuator, per_synergy = membership.sum(axis=1), membership.sum(axis=0)
        dead, shared = np.flatnonzero(per_actuator == 0), np.flatnonzero(per_actuator > 1)
        if dead.size:
            raise CardError(f"{self.where}: key '{key}': actuator {actuators(dead)} belongs to "
                            'no synergy, so its joint would never move')
        if shared.size:
            raise CardError(f"{self.where}: key '{key}': actuator {actuators(shared)} is in "
                            'several synergies; a cluster structure puts each actuator in '
                            'exactly one')
        if not per_synergy.all():
            raise CardError(f"{self.where}: key '{key}': synergy "
                            f'{np.flatnonzero(per_synergy == 0).tolist()} has no actuator')

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
            expected = _expected_shape(entry, data)
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
            expected = _expected_shape(entry, data)
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
