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
    """One control step: effort commands (finite, within the card's limits), raw action, synergies.

    The commands are clipped here, in :meth:`PolicyRuntime.act_on_observation` (and row by row
    in :meth:`PolicyRuntime.act_batch`, whose arrays have a leading state axis): the one clip
    on every path (``evaluate``, ``sim``, the policy node, which publishes them as they are).
    """

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


def _non_finite_state(qpos: np.ndarray, qvel: np.ndarray) -> NonFiniteError:
    """Return the error naming the first state [N, ...] with a non-finite qpos or qvel."""
    count = len(qpos)
    for name, values in (('qpos', qpos), ('qvel', qvel)):
        bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
        if len(bad):
            which = '' if count == 1 else f' {bad[0]} of {count}' + (
                f' (and {len(bad) - 1} more)' if len(bad) > 1 else '')
            return NonFiniteError(f'state{which} has non-finite values in {name}')
    raise AssertionError('every state is finite')


class PolicyRuntime:
    """Loads an ONNX policy, checks its card against the robot, maps states to commands.

    Every graph input is fed by name from its declared source: the observation of the
    state, the current task vector (:meth:`set_task`) or a constant of the card's
    ``synergy`` section. A policy that serves several robots is run for ``robot`` (default:
    the card's) with that robot's card (:meth:`PolicyCard.variant`): its observation, scaling
    and synergy structure. Any load problem is a :class:`PolicyLoadError` naming the file.

    By default the graph runs one state a call with every symbolic size fixed, the batch's to
    1 (the control loop's case: ORT folds the shape arithmetic). ``batched=True`` leaves the
    batch size free for :meth:`act_batch` (many states of the robot, one graph call: the
    teachers of a distillation label every env of their robot at once).
    """

    def __init__(self, path: str | Path, robot: Robot | str | None = None, *,
                 threads: int = 1, batched: bool = False):
        self.path = Path(path)
        self.batched = batched
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
        self.observe = ObservationBuilder(robot, card.observation['mode'],
                                          card.observation['velocity_clip'],
                                          card.observation.get('lateral_position', True))
        self._state_widths = (robot.model.nq, robot.model.nv, robot.model.nu)
        # The robot's own scaling (the card was just checked to agree with it).
        self.scaling = ActionScaling.from_robot(robot)
        self.command_low, self.command_high = self.scaling.command_limits
        synergy_output = card.output_of('synergy_activations')
        self.synergy_count = synergy_output['shape'][1] if synergy_output else 0
        self._feed = {i['name']: card.constant(i['source']) for i in card.onnx['inputs']
                      if i['source'].startswith(SYNERGY_SOURCE)}
        self._obs_name = card.input_of('observation')['name']
        self._task_input = card.input_of('task_embedding')
        self.task: str | None = None  # the task command now fed (None: no task input)
        if self._task_input is not None:
            self.set_task(card.tasks['default'])
        # per-state inputs fed one row (the task vector), repeated to the states of a batch
        self._tiled = [self._task_input['name']] if self.batched and self._task_input else []

    def _fixed_dims(self) -> dict[str, int]:
        """Sizes of the graph's symbolic input dimensions for this robot, one sample a call.

        A batched runtime keeps the batch free: the observation's leading dimension, which
        every per-state input (the observation, the task vector) must share; a graph that
        fixes it, or gives a per-state input another leading size, cannot take a batch.
        """
        examples = {**self._feed, self._obs_name: np.zeros((1, self.observe.size))}
        inputs = self.session.get_inputs()
        dims = {dim: size for i in inputs if i.name in examples
                for dim, size in zip(i.shape, examples[i.name].shape) if isinstance(dim, str)}
        if not self.batched:
            return dims
        batch = next(i.shape[0] for i in inputs if i.name == self._obs_name)
        per_state = [self._obs_name, *self._tiled]
        fixed = [f'{i.name} {i.shape}' for i in inputs
                 if i.name in per_state and (i.shape[0] != batch or not isinstance(batch, str))]
        if fixed:
            raise PolicyLoadError(f'policy {self.path} cannot run a batch: its graph fixes the '
                                  f"leading (batch) size of {', '.join(fixed)}")
        del dims[batch]
        return dims

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
        action, synergy = self._infer(np.asarray(observation, dtype=np.float32).reshape(1, -1))
        return self._output(action[0], synergy[0])

    def act(self, qpos: np.ndarray, qvel: np.ndarray,
            ctrl: np.ndarray | None = None) -> PolicyOutput:
        """Compute the commands for the robot in state (qpos, qvel).

        Observations that need the actuator input that drove the state (the humanoid's
        ``qfrc_actuator`` and contact forces) take ``ctrl``: the simulator's, or on a robot
        ``scaling.command_to_ctrl`` of the command in force (zeros before the first).
        """
        qpos, qvel = np.asarray(qpos), np.asarray(qvel)
        states = self._observations(qpos[None], qvel[None],
                                    None if ctrl is None else np.asarray(ctrl)[None])
        return self.act_on_observation(states[0])

    def act_batch(self, qpos: np.ndarray, qvel: np.ndarray,
                  ctrl: np.ndarray | None = None) -> PolicyOutput:
        """Commands, actions [N, nu] and synergies [N, k] of N states, in one graph call.

        ``qpos`` [N, nq], ``qvel`` [N, nv] (and ``ctrl`` [N, nu], as :meth:`act` takes it);
        each row is checked and observed as :meth:`act` does one state. More than one state
        needs a runtime opened with ``batched=True``.
        """
        qpos, qvel = np.asarray(qpos), np.asarray(qvel)
        if len(qpos) > 1 and not self.batched:
            raise ValueError(f'policy runtime of {self.path} runs one state a call '
                             f'(batched=False), got {len(qpos)}')
        observations = self._observations(qpos, qvel, None if ctrl is None else np.asarray(ctrl))
        return self._output(*self._infer(observations.astype(np.float32)))

    def _observations(self, qpos: np.ndarray, qvel: np.ndarray,
                      ctrl: np.ndarray | None) -> np.ndarray:
        """Check states [N, nq], [N, nv] (ctrl [N, nu] or None) and observe them [N, size].

        Non-finite states are refused before the observation (its clipping would hide them);
        a free root's quaternion is fed at unit length (:func:`with_unit_root_quaternion`).
        """
        count, (nq, nv, nu) = len(qpos), self._state_widths
        if qpos.shape != (count, nq) or qvel.shape != (count, nv) or (
                ctrl is not None and ctrl.shape != (count, nu)):
            name, values, width = next(item for item in (
                ('qpos', qpos, nq), ('qvel', qvel, nv), ('ctrl', ctrl, nu))
                if item[1] is not None and item[1].shape != (count, item[2]))
            raise ValueError(f'{name} of {self.robot.name} must be [{count}, {width}] '
                             f'(states x values), got shape {list(values.shape)}')
        if not (np.isfinite(qpos).all() and np.isfinite(qvel).all()):
            raise _non_finite_state(qpos, qvel)  # refused here: clipping would hide them
        if self.observe.needs_ctrl and ctrl is None:
            ctrl = np.zeros((count, nu))
        return self.observe.batch(with_unit_root_quaternion(self.robot, qpos), qvel, ctrl)

    def _infer(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw actions [N, nu] and synergies [N, k] (float64, finite) of observations [N, size].

        One graph call: per-state inputs fed as one row (the task vector) are repeated to N.
        """
        if not np.isfinite(observations).all():
            raise NonFiniteError('observation has non-finite values')
        feed, count = self._feed, len(observations)
        if count > 1:
            feed = {**feed, **{name: np.repeat(feed[name], count, axis=0)
                               for name in self._tiled}}
        feed[self._obs_name] = observations
        try:
            outputs = self.session.run(None, feed)
        except Exception as error:  # ORT raises its own private exception types
            raise NonFiniteError(f'policy inference failed: {error}') from error
        action = outputs[0].astype(np.float64)
        synergy = (outputs[1].astype(np.float64) if len(outputs) > 1
                   else np.zeros((count, 0)))
        if not (np.isfinite(action).all() and np.isfinite(synergy).all()):
            finite = np.isfinite(action).all(axis=1) & np.isfinite(synergy).all(axis=1)
            row = int(np.flatnonzero(~finite)[0])
            which = '' if count == 1 else f' of state {row} (of {count})'
            raise NonFiniteError(f'policy output{which} {action[row].tolist()} / synergy '
                                 f'{synergy[row].tolist()} is not finite')
        return action, synergy

    def _output(self, action: np.ndarray, synergy: np.ndarray) -> PolicyOutput:
        """Commands of checked actions [nu] or [N, nu], clipped to the card's limits."""
        # the one clip of a command (minimum/maximum: a quarter of np.clip's cost on six values)
        commands = np.minimum(np.maximum(self.scaling.action_to_command(action),
                                         self.command_low), self.command_high)
        return PolicyOutput(commands, action, synergy)
