"""Inference runtime: an exported policy, checked against its robot, as a state → command map.

The policy node and ``synergy-control evaluate`` both run policies through this class, so
what is measured offline is what drives the robot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from synergy_control.actions import ActionScaling
from synergy_control.card import METADATA_KEY, CardError, PolicyCard
from synergy_control.observation import ObservationBuilder
from synergy_control.robots import Robot, get_robot


class PolicyLoadError(RuntimeError):
    """The model file is missing, corrupt, has no card, or does not fit the robot."""


class NonFiniteError(ValueError):
    """A non-finite observation or policy output (or a failed inference): no command."""


@dataclass
class PolicyOutput:
    """One control step: effort commands (clipped, finite), raw action, synergy activations."""

    commands: np.ndarray
    action: np.ndarray
    synergy: np.ndarray


def read_card(path: str | Path) -> PolicyCard:
    """Read the policy card stored in an ONNX model's metadata."""
    session = _open_session(path, threads=1)
    return _card_of(session, path)


def _open_session(path: str | Path, threads: int) -> ort.InferenceSession:
    path = Path(path)
    if not path.is_file():
        raise PolicyLoadError(f'policy file {path} does not exist')
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    try:
        return ort.InferenceSession(str(path), options, providers=['CPUExecutionProvider'])
    except Exception as error:  # ORT raises several private exception types
        raise PolicyLoadError(f'cannot load policy {path}: not a valid ONNX model '
                              f'({type(error).__name__}: {str(error)[:200]})') from error


def _card_of(session: ort.InferenceSession, path: str | Path) -> PolicyCard:
    metadata = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in metadata:
        raise PolicyLoadError(f'policy {path} has no policy card ({METADATA_KEY} metadata); '
                              'export it with `synergy-control export`')
    try:
        return PolicyCard.from_yaml(metadata[METADATA_KEY])
    except (CardError, TypeError) as error:
        raise PolicyLoadError(f'policy {path}: {error}') from error


class PolicyRuntime:
    """Loads an ONNX policy, checks its card against the robot, maps states to commands."""

    def __init__(self, path: str | Path, robot: Robot | str | None = None, *,
                 threads: int = 1):
        self.path = Path(path)
        self.session = _open_session(self.path, threads)
        self.card = _card_of(self.session, self.path)
        try:
            if not isinstance(robot, Robot):
                robot = get_robot(robot or self.card.robot)
            self.robot = robot
            self.card.check_robot(self.robot)
            self.observe = ObservationBuilder(self.robot, self.card.observation['mode'])
        except (CardError, KeyError, TypeError, ValueError) as error:
            raise PolicyLoadError(f'policy {self.path}: {error}') from error
        # The robot's own scaling (the card was just checked to agree with it).
        self.scaling = ActionScaling.from_robot(self.robot)
        self.command_low, self.command_high = self.scaling.command_limits
        self.synergy_count = int((self.card.synergy or {}).get('count', 0))
        self._input_name = self._check_signature()

    def _check_signature(self) -> str:
        """Refuse a graph whose inputs or outputs do not fit the card; return the input name."""
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or inputs[0].shape[-1] != self.observe.size:
            raise PolicyLoadError(f'policy {self.path} input {[i.shape for i in inputs]} does not '
                                  f'take a {self.observe.size}-value observation')
        widths = [self.scaling.size] + ([self.synergy_count] if self.synergy_count else [])
        shapes = [o.shape for o in outputs]
        if len(outputs) != len(widths) or any(
                len(shape) != 2 or shape[-1] != width for shape, width in zip(shapes, widths)):
            raise PolicyLoadError(f'policy {self.path} outputs {shapes} do not match the card: '
                                  f'expected [batch, {widths}]')
        return inputs[0].name

    def act_on_observation(self, observation: np.ndarray) -> PolicyOutput:
        """Run the policy on a prepared observation vector."""
        obs = np.asarray(observation, dtype=np.float32).reshape(1, -1)
        if not np.all(np.isfinite(obs)):
            raise NonFiniteError('observation has non-finite values')
        try:
            outputs = self.session.run(None, {self._input_name: obs})
        except Exception as error:  # ORT raises its own private exception types
            raise NonFiniteError(f'policy inference failed: {error}') from error
        action = outputs[0][0].astype(np.float64)
        synergy = outputs[1][0].astype(np.float64) if len(outputs) > 1 else np.zeros(0)
        if not (np.all(np.isfinite(action)) and np.all(np.isfinite(synergy))):
            raise NonFiniteError(f'policy output {action.tolist()} / synergy '
                                 f'{synergy.tolist()} is not finite')
        commands = np.clip(self.scaling.action_to_command(action),
                           self.command_low, self.command_high)
        return PolicyOutput(commands, action, synergy)

    def act(self, qpos: np.ndarray, qvel: np.ndarray) -> PolicyOutput:
        """Compute the commands for the robot in state (qpos, qvel)."""
        if not (np.all(np.isfinite(qpos)) and np.all(np.isfinite(qvel))):
            raise NonFiniteError('state has non-finite values')  # clipping would hide them
        return self.act_on_observation(self.observe(qpos, qvel))
