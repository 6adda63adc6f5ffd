"""Inference runtime: an exported policy, checked against its robot, as a state → command map.

The policy node and ``synergy-control evaluate`` both run policies through this class, so
what is measured offline is what drives the robot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from synergy_control.actions import ActionScaling
from synergy_control.card import METADATA_KEY, SYNERGY_SOURCE, CardError, PolicyCard
from synergy_control.observation import ObservationBuilder
from synergy_control.robots import Robot, get_robot
from synergy_control.state import with_unit_root_quaternion
from synergy_control.task_embedding import normalise, parse_task


FLOAT = 'tensor(float)'


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
    session = open_session(path, threads=1)
    return _card_of(session, path)


def open_session(path: str | Path, threads: int,
                 dims: Mapping[str, int] | None = None) -> ort.InferenceSession:
    """Open an ONNX model for sequential CPU inference on ``threads`` threads.

    ``dims`` fixes symbolic dimensions (``{'batch': 1, 'actuators': 6}``): ORT then folds the
    shape arithmetic of a graph exported for any robot size, which is most of a SOLAR graph's
    nodes (``benchmarks/solar_inference_latency.py`` measures the difference).
    """
    path = Path(path)
    if not path.is_file():
        raise PolicyLoadError(f'policy file {path} does not exist')
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    for name, size in (dims or {}).items():
        options.add_free_dimension_override_by_name(name, int(size))
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
        return PolicyCard.from_yaml(metadata[METADATA_KEY], source=path)
    except CardError as error:
        raise PolicyLoadError(str(error)) from error


class PolicyRuntime:
    """Loads an ONNX policy, checks its card against the robot, maps states to commands.

    Every graph input is fed by name from its declared source: the observation of the
    state, the current task vector (:meth:`set_task`) or a constant of the card's
    ``synergy`` section. A policy that serves several robots is run for ``robot`` (default:
    the card's) with that robot's card (:meth:`PolicyCard.variant`): its observation, scaling
    and synergy structure. Any load problem is a :class:`PolicyLoadError` naming the file.
    """

    def __init__(self, path: str | Path, robot: Robot | str | None = None, *,
                 threads: int = 1):
        self.path = Path(path)
        self.session = open_session(self.path, threads)
        self.card = _card_of(self.session, self.path)
        try:
            self._load(robot)
            dims = self._fixed_dims()
            if dims:  # one robot per runtime: its sizes are constants of the graph from now on
                self.session = open_session(self.path, threads, dims)
        except PolicyLoadError:
            raise
        except Exception as error:  # a validated card leaves only robot/graph problems here
            raise PolicyLoadError(f'policy {self.path}: {error}') from error

    def _load(self, robot: Robot | str | None) -> None:
        name = robot.name if isinstance(robot, Robot) else robot or self.card.robot
        self.robots = self.card.robots  # a policy for several robots runs ``name``'s variant
        self.card = card = self.card.variant(name)  # CardError names the robots served
        if not isinstance(robot, Robot):
            robot = get_robot(name)
        self.robot = robot
        card.check_robot(robot)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        card.check_graph([(i.name, i.shape) for i in inputs], [(o.name, o.shape) for o in outputs])
        not_float = [f'{v.name} ({v.type})' for v in [*inputs, *outputs] if v.type != FLOAT]
        if not_float:  # the runtime feeds float32 and reads float32: refuse now, not per tick
            raise PolicyLoadError(f'policy {self.path}: graph tensors must be {FLOAT}: '
                                  f'{", ".join(not_float)}')
        self.observe = ObservationBuilder(robot, card.observation['mode'])
        # The robot's own scaling (the card was just checked to agree with it).
        self.scaling = ActionScaling.from_robot(robot)
        self.command_low, self.command_high = self.scaling.command_limits
        self._zero_ctrl = np.zeros(self.scaling.size)
        synergy_output = card.output_of('synergy_activations')
        self.synergy_count = synergy_output['shape'][1] if synergy_output else 0
        self._feed = {i['name']: card.constant(i['source']) for i in card.onnx['inputs']
                      if i['source'].startswith(SYNERGY_SOURCE)}
        self._obs_name = card.input_of('observation')['name']
        self._task_input = card.input_of('task_embedding')
        self.task: str | None = None  # the task command now fed (None: no task input)
        if self._task_input is not None:
            self.set_task(card.tasks['default'])

    def _fixed_dims(self) -> dict[str, int]:
        """Sizes of the graph's symbolic input dimensions for this robot, one sample a call."""
        examples = {**self._feed, self._obs_name: np.zeros((1, self.observe.size))}
        return {dim: size for i in self.session.get_inputs() if i.name in examples
                for dim, size in zip(i.shape, examples[i.name].shape) if isinstance(dim, str)}

    @property
    def task_names(self) -> list[str]:
        """Named tasks of the card (empty for a policy without a task input)."""
        return sorted((self.card.tasks or {}).get('embeddings', {}))

    @property
    def task_embedding(self) -> np.ndarray:
        """The unit task vector now fed to the graph (empty without a task input)."""
        if self._task_input is None:
            return np.zeros(0)
        return self._feed[self._task_input['name']][0].astype(np.float64)

    def set_task(self, task: str | np.ndarray) -> str:
        """Condition the policy on a task: a command string or an embedding vector.

        A string is a named task of the card, a blend ``'vel:3 vel:5 0.25'`` or a vector
        ``'[x, y, z]'`` (:func:`~synergy_control.task_embedding.parse_task`); every vector
        is projected onto the unit sphere. Raises ValueError naming what is wrong and keeps
        the previous task; returns a description of the task now fed.
        """
        if self._task_input is None:
            raise ValueError(f'policy {self.path} takes no task embedding')
        dim = self._task_input['shape'][1]
        if isinstance(task, str):
            vector, described = parse_task(task, self.card.tasks['embeddings'], dim), task
        else:
            vector = normalise(task, dim)
            described = f"[{', '.join(f'{v:.4g}' for v in vector)}]"
        self._feed[self._task_input['name']] = vector.astype(np.float32).reshape(1, dim)
        self.task = described
        return described

    def act_on_observation(self, observation: np.ndarray) -> PolicyOutput:
        """Run the policy on a prepared observation vector.

        The hot path of the control loop: the feed dict is reused and the checks are the
        cheapest numpy offers (``isfinite().all()``, ``minimum``/``maximum``).
        """
        obs = np.asarray(observation, dtype=np.float32).reshape(1, -1)
        if not np.isfinite(obs).all():
            raise NonFiniteError('observation has non-finite values')
        self._feed[self._obs_name] = obs
        try:
            outputs = self.session.run(None, self._feed)
        except Exception as error:  # ORT raises its own private exception types
            raise NonFiniteError(f'policy inference failed: {error}') from error
        action = outputs[0][0].astype(np.float64)
        synergy = outputs[1][0].astype(np.float64) if len(outputs) > 1 else np.zeros(0)
        if not (np.isfinite(action).all() and np.isfinite(synergy).all()):
            raise NonFiniteError(f'policy output {action.tolist()} / synergy '
                                 f'{synergy.tolist()} is not finite')
        commands = np.minimum(np.maximum(self.scaling.action_to_command(action),
                                         self.command_low), self.command_high)
        return PolicyOutput(commands, action, synergy)

    def act(self, qpos: np.ndarray, qvel: np.ndarray,
            ctrl: np.ndarray | None = None) -> PolicyOutput:
        """Compute the commands for the robot in state (qpos, qvel).

        Observations that need the actuator input that drove the state (the humanoid's
        ``qfrc_actuator`` and contact forces) take ``ctrl``: the simulator's, or on a robot
        ``scaling.command_to_ctrl`` of the command in force (zeros before the first).
        """
        if not (np.isfinite(qpos).all() and np.isfinite(qvel).all()):
            raise NonFiniteError('state has non-finite values')  # clipping would hide them
        if self.observe.needs_ctrl and ctrl is None:
            ctrl = self._zero_ctrl
        qpos = with_unit_root_quaternion(self.robot, qpos)
        return self.act_on_observation(self.observe(qpos, qvel, ctrl))
