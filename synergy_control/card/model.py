"""The policy card as data: built from robots, read from YAML, checked against robot and graph.

:meth:`PolicyCard.from_yaml` migrates a format-1 card (:mod:`~.migration`) and validates it
(:mod:`~.validation`); :meth:`PolicyCard.check_robot` and :meth:`PolicyCard.check_graph` refuse
a robot or a graph the card does not fit. See :mod:`synergy_control.card`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from synergy_control.actions import ActionScaling
from synergy_control.card.migration import migrate_v1
from synergy_control.card.schema import (CARD_FORMAT, CARD_FORMAT_V1, SYNERGY_SOURCE, CardError,
                                         default_onnx, variant_data)
from synergy_control.card.validation import Validator
from synergy_control.observation import ObservationBuilder
from synergy_control.robots import Robot
from synergy_control.synergy import SynergyStructure


def robot_facts(robot: Robot, obs_mode: str) -> dict[str, Any]:
    """Return the card's facts of ``robot``, from the robot itself (one source of truth)."""
    return {'robot_family': robot.family.name, 'model_hash': robot.model_hash,
            'joint_names': list(robot.joint_names), 'actuator_names': list(robot.actuator_names),
            'observation': ObservationBuilder(robot, obs_mode).spec(),
            'action': ActionScaling.from_robot(robot).to_dict(),
            'control_period': robot.control_period}


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
        return PolicyCard(**variant_data(asdict(self), robot, f'policy card {self.name}'))

    def structure(self) -> SynergyStructure | None:
        """Return the cluster structure of this card's ``synergy`` section (None: none, a basis).

        A multi-variant card's is its default robot's (:meth:`variant` for another robot's).
        Parsed by :meth:`SynergyStructure.from_card`, the parser the card's validation runs.
        """
        if not SynergyStructure.clustered(self.synergy):
            return None
        return SynergyStructure.from_card(self.synergy, names=self.actuator_names)

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
            data = migrate_v1(data, where)
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
        Validator(where).card(data)
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
            expected = ObservationBuilder(
                robot, self.observation['mode'], self.observation.get('velocity_clip'),
                self.observation.get('lateral_position', True)).spec()
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
