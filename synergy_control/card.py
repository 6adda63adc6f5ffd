"""The policy card: everything needed to run an exported policy on a robot.

Stored as YAML in the ONNX model's ``metadata_props`` (key ``synergy_control.card``) and as a
readable ``.card.yaml`` beside the model. The runtime refuses a policy whose card does not
match the robot it must drive (joints, observation size, action scaling, control period,
model hash), naming what differs.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from synergy_control.actions import ActionScaling
from synergy_control.observation import ObservationBuilder
from synergy_control.robots import Robot

CARD_FORMAT = 'synergy_control/policy-card/1'
METADATA_KEY = 'synergy_control.card'


class CardError(ValueError):
    """A policy card that is missing, malformed or does not fit the robot."""


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
    normalization: dict[str, Any] = field(default_factory=lambda: {'baked_into_graph': False})
    synergy: dict[str, Any] | None = None
    task_embeddings: dict[str, Any] | None = None
    training: dict[str, Any] = field(default_factory=dict)
    onnx: dict[str, Any] = field(default_factory=lambda: {'input': 'obs', 'outputs': ['action']})
    format: str = CARD_FORMAT

    @classmethod
    def for_robot(cls, robot: Robot, *, name: str, method: str, obs_mode: str,
                  **extra: Any) -> 'PolicyCard':
        """Make a card whose robot facts come from the robot itself (one source of truth)."""
        return cls(name=name, method=method, robot=robot.name, robot_family=robot.family.name,
                   model_hash=robot.model_hash, joint_names=list(robot.joint_names),
                   actuator_names=list(robot.actuator_names),
                   observation=ObservationBuilder(robot, obs_mode).spec(),
                   action=ActionScaling.from_robot(robot).to_dict(),
                   control_period=robot.control_period, **extra)

    def to_yaml(self) -> str:
        """YAML text of the card."""
        return yaml.safe_dump(asdict(self), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str) -> 'PolicyCard':
        """Parse and validate a card; CardError names the missing or unknown keys."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise CardError(f'policy card is not valid YAML: {error}') from error
        if not isinstance(data, dict):
            raise CardError('policy card must be a mapping')
        if data.get('format') != CARD_FORMAT:
            raise CardError(f"policy card format is '{data.get('format')}', "
                            f"expected '{CARD_FORMAT}'")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise CardError(f'policy card has unknown keys {unknown}')
        missing = [k for k, f in cls.__dataclass_fields__.items()
                   if f.default is MISSING and f.default_factory is MISSING and k not in data]
        if missing:
            raise CardError(f'policy card lacks keys {missing}')
        return cls(**data)

    def save(self, path: str | Path) -> None:
        """Write the readable YAML copy."""
        Path(path).write_text(self.to_yaml())

    def check_robot(self, robot: Robot) -> None:
        """Raise CardError naming every mismatch between this card and ``robot``."""
        problems = []
        if list(robot.joint_names) != list(self.joint_names):
            missing = [j for j in self.joint_names if j not in robot.joint_names]
            extra = [j for j in robot.joint_names if j not in self.joint_names]
            problems.append(f'joint names differ: policy {self.joint_names}, robot '
                            f'{robot.joint_names} (policy joints missing on robot: {missing}; '
                            f'robot joints unknown to policy: {extra})')
        observation = ObservationBuilder(robot, self.observation['mode'])
        if observation.size != self.observation['size']:
            problems.append(f"observation size {self.observation['size']} != robot's "
                            f'{observation.size}')
        expected = ActionScaling.from_robot(robot).to_dict()
        for key in ('ctrl_low', 'ctrl_high', 'gear'):
            recorded = np.asarray(self.action.get(key, []), dtype=np.float64)
            if recorded.shape != (robot.model.nu,) or not np.allclose(recorded, expected[key]):
                problems.append(f'action {key} {recorded.tolist()} != robot {expected[key]}')
        if self.model_hash != robot.model_hash:
            problems.append(f'model hash {self.model_hash} != robot {robot.name} hash '
                            f'{robot.model_hash} (trained on a different MJCF)')
        if abs(self.control_period - robot.control_period) > 1e-9:
            problems.append(f'control period {self.control_period} != robot '
                            f'{robot.control_period}')
        if problems:
            raise CardError(f"policy '{self.name}' does not fit robot '{robot.name}': "
                            + '; '.join(problems))
