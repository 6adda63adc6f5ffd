"""Gymnasium locomotion environments for every robot variant and task (gymnasium v5 / EAR).

One step function for every family and task: reward = sum(rewards) - sum(costs), the terms
read from the task's :class:`TaskSpec` as data (see ``QUANTITIES``); episodes end on
termination (unhealthy: torso height, pitch, state range, non-finite state) or on truncation at
``episode_steps``; the two are reported apart, so that learners bootstrap through time-limit
ends. The task (``'forward'``, ``'vel:3.0'``, ``'dir:45'``, ``'jump:5'``) is a parameter: see
``synergy_control.robots.families.TASK_SETS`` for the EAR training sets. For the full walker,
hopper and humanoid the dynamics, reward, termination and reset equal gymnasium's
Walker2d-v5, Hopper-v5 and Humanoid-v5 bit for bit; see docs/environments.md for the
observation.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, NamedTuple

import gymnasium
import mujoco
import numpy as np

from synergy_control.actions import ActionScaling
from synergy_control.observation import ObservationBuilder
from synergy_control.robots import Robot, Task, get_robot
from synergy_control.robots.families import TaskSpec, Term


class LocomotionEnv(gymnasium.Env):
    """Locomotion task of one morphology variant."""

    metadata = {'render_modes': ['rgb_array']}

    def __init__(self, robot: str | Robot, obs_mode: str = 'flat',
                 task: str | Task | None = None, episode_steps: int | None = None,
                 render_mode: str | None = None, width: int = 320, height: int = 240):
        self.robot = get_robot(robot) if isinstance(robot, str) else robot
        self.task = Task.parse(task)
        self.task_spec = self._task_spec(self.task)
        self.model = self.robot.model
        self.data = mujoco.MjData(self.model)
        self._arrays = _DataArrays(self.data)
        self.observe = ObservationBuilder(self.robot, obs_mode)
        self.scaling = ActionScaling.from_robot(self.robot)
        self.episode_steps = episode_steps or self.task_spec.episode_steps
        self.dt = self.robot.control_period
        self.render_mode = render_mode
        self._render_size = (height, width)
        self._renderer: mujoco.Renderer | None = None
        self._rest_height = self.robot.torso_height(self.model.qpos0)
        self._ctrl_order = _source_actuator_order(self.robot)
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (self.observe.size,),
                                                      np.float64)
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (self.model.nu,), np.float32)
        self.elapsed_steps = 0
        terms = self.task_spec.rewards + self.task_spec.costs
        self._reads_contact = any(t.quantity == 'contact' for t in terms)
        self._group = EnvGroup([self])

    def _task_spec(self, task: Task) -> TaskSpec:
        """Look up the family's spec of this task kind, its height range shifted as the robot's."""
        if task.kind == 'forward':
            return self.robot.task
        spec = self.robot.family.task_spec(task)
        shifted, source = self.robot.task.healthy_z, self.robot.family.task.healthy_z
        if spec.healthy_z is None or shifted is None or source is None:
            return spec
        shift = shifted[0] - source[0]
        return replace(spec, healthy_z=(spec.healthy_z[0] + shift, spec.healthy_z[1] + shift))

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Start an episode from the rest pose plus reset noise (gymnasium v5's draws)."""
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        noise = self.task_spec.reset_noise
        qpos = self.model.qpos0 + self.np_random.uniform(-noise, noise, self.model.nq)
        if self.task_spec.reset_velocity == 'normal':
            qvel = noise * self.np_random.standard_normal(self.model.nv)
        else:
            qvel = self.np_random.uniform(-noise, noise, self.model.nv)
        self.set_state(qpos, qvel)
        self.elapsed_steps = 0
        return self.observation(), {'x_position': self.robot.forward_position(self.data.qpos),
                                    'task': str(self.task)}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Apply a policy action in [-1, 1] for one control period (frame_skip physics steps).

        A group of one (:class:`EnvGroup`), the step the vectorised environments take.
        """
        one = self._group.step(np.asarray(action)[None])
        spec = self.task_spec
        info = {f'reward_{t.quantity}': float(v) for t, v in zip(spec.rewards, one.rewards)}
        info.update({f'reward_{t.quantity}': -float(v) for t, v in zip(spec.costs, one.costs)})
        qpos = self._arrays.qpos
        info.update({'x_position': self.robot.forward_position(qpos),
                     'x_velocity': float(one.velocity[0]), 'y_velocity': float(one.velocity[1]),
                     'torso_height': self.robot.torso_height(qpos)})
        return one.obs, float(one.reward), bool(one.terminated), bool(one.truncated), info

    def step_command(self, command: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Step with actuator effort commands, as the ROS bridge receives them."""
        return self.step(self.scaling.command_to_action(command))

    def render(self) -> np.ndarray:
        """Render an RGB frame from the tracking camera (MuJoCo offscreen: OSMesa or EGL)."""
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, *self._render_size)
        camera = 'track' if mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA,
                                              'track') >= 0 else -1
        self._renderer.update_scene(self.data, camera=camera)
        return self._renderer.render()

    def close(self) -> None:
        """Release the renderer."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # ------------------------------------------------------------------ state
    def observation(self) -> np.ndarray:
        """Build the policy observation of the current state and the ctrl that drove it."""
        return self.observe(self.data.qpos, self.data.qvel, self.data.ctrl)

    def planar_position(self) -> np.ndarray:
        """World (x, y) whose rate the objective reads: root, mass centre or torso frame."""
        return _planar_positions(self._group)

    def set_state(self, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Set the simulator state and recompute derived quantities."""
        self.data.qpos[:] = qpos
        self.data.qvel[:] = qvel
        mujoco.mj_forward(self.model, self.data)

    def is_healthy(self) -> bool:
        """Apply the task's health test to qpos/qvel (gymnasium-v5 semantics)."""
        qpos, qvel = self._arrays.qpos, self._arrays.qvel
        return bool(_healthy(self, qpos, qvel, _finite(qpos, qvel)))

    def height_above_rest(self) -> float:
        """Root height above its rest value (the EAR jump task's z: qpos[1] of the cheetah)."""
        return self.robot.torso_height(self.data.qpos) - self._rest_height


class _DataArrays:
    """An env's ``MjData`` arrays that a step reads, viewed once.

    Each attribute read of an ``MjData`` array makes a new numpy view (~1 µs); a group step
    reads several per env. ``MjData`` keeps its buffers for its lifetime, so views taken once
    stay current.
    """

    def __init__(self, data: mujoco.MjData):
        self.qpos, self.qvel, self.ctrl = data.qpos, data.qvel, data.ctrl
        self.cfrc_ext, self.xipos, self.xpos = data.cfrc_ext, data.xipos, data.xpos


class GroupStep(NamedTuple):
    """What :meth:`EnvGroup.step` returns: per env [N, ...], for a group of one its values.

    A group of one has no leading axis (reward a scalar, obs [size]); numpy broadcasting
    writes either into [N] rows.
    """

    obs: np.ndarray           # [N, obs] float64
    reward: np.ndarray        # [N]: sum(rewards) - sum(costs)
    terminated: np.ndarray    # [N] bool
    truncated: np.ndarray     # [N] bool (and not terminated)
    velocity: np.ndarray      # [N, 2]: planar velocity over the control period
    rewards: list[np.ndarray]  # [N] per term of the task's rewards, in its order
    costs: list[np.ndarray]    # [N] per term of its costs (positive: subtracted)


class _GroupState(NamedTuple):
    """The group's state after the physics step, stacked [N, ...] (what the terms read)."""

    qpos: np.ndarray
    qvel: np.ndarray
    ctrl: np.ndarray
    cfrc_ext: np.ndarray | None  # [N, nbody, 6], only where a term reads contact forces


class EnvGroup:
    """Environments of one robot, task and observation mode, stepped together.

    :meth:`step` runs ``mj_step`` per ``MjData``, then observation, reward terms, health,
    termination and truncation over the group's states: the same code for one env's state
    (its ``MjData`` arrays, scalars out: numpy scalar arithmetic, as a single env needs) and
    for N stacked states [N, ...] (array operations, each elementwise as for one state), so
    a group of one is :meth:`LocomotionEnv.step` and a group of N equals N single steps bit
    for bit. What every step reads (the envs' ``MjData`` views, the model) is looked up here
    once. The functions below take qpos [nq] or [N, nq] alike (``...`` indexing, last axes).
    """

    def __init__(self, envs: Sequence[LocomotionEnv]):
        self.envs = tuple(envs)
        first = self.envs[0]
        self._first, self._model, self._frame_skip = first, first.model, first.robot.frame_skip
        self._datas = [env.data for env in self.envs]
        self._arrays = [env._arrays for env in self.envs]
        self._single = len(self.envs) == 1
        # one env's state after a step: its MjData views, made once (and as a batch of one
        # for the observation builder)
        self._single_state = self._state() if self._single else None
        self._single_rows = None if not self._single else tuple(
            getattr(self._arrays[0], name)[None] for name in ('qpos', 'qvel', 'ctrl'))

    def stacked(self, name: str) -> np.ndarray:
        """Stack the envs' ``MjData`` array ``name`` [N, ...]; one env's own view for one.

        The view follows the simulation: read it before the next physics step.
        """
        if self._single:
            return getattr(self._arrays[0], name)
        return np.array([getattr(arrays, name) for arrays in self._arrays])

    def step(self, actions: np.ndarray) -> GroupStep:
        """Step every env with its row of ``actions`` [N, nu] for one control period.

        Each ``MjData`` is stepped as gymnasium's MujocoEnv does (``mj_step`` x frame_skip then
        ``mj_rnePostConstraint`` for contact forces); the velocity is the displacement of
        :meth:`LocomotionEnv.planar_position` over the period.
        """
        env, model, frame_skip = self._first, self._model, self._frame_skip
        spec = env.task_spec
        ctrl = env.scaling.action_to_ctrl(np.asarray(actions, dtype=np.float64))  # clips
        before = _planar_positions(self)
        for data, arrays, row in zip(self._datas, self._arrays, ctrl):
            arrays.ctrl[:] = row
            mujoco.mj_step(model, data, nstep=frame_skip)
            mujoco.mj_rnePostConstraint(model, data)
        state = self._single_state or self._state()
        velocity = (_planar_positions(self, state.qpos) - before) / env.dt
        finite = _finite(state.qpos, state.qvel)
        healthy = _healthy(env, state.qpos, state.qvel, finite)
        rewards = [_term(env, t, state, velocity, healthy) for t in spec.rewards]
        costs = [_term(env, t, state, velocity, healthy) for t in spec.costs]
        # Python's sum order (0 + a + b ...), so the float equals the one-env sum
        reward = sum(rewards) - sum(costs)
        for member in self.envs:
            member.elapsed_steps += 1
        at_limit = [e.elapsed_steps >= e.episode_steps for e in self.envs]
        # A diverged simulation ends the episode even for tasks that never terminate
        # (healthy implies finite); both are numpy bools, so ~ is logical
        running = healthy if spec.terminate_when_unhealthy else finite
        terminated = ~running
        truncated = (at_limit[0] if self._single else np.array(at_limit)) & running
        if self._single:
            obs = env.observe.batch(*self._single_rows)[0]
        else:
            obs = env.observe.batch(state.qpos, state.qvel, state.ctrl)
        return GroupStep(obs, reward, terminated, truncated, velocity, rewards, costs)

    def _state(self) -> _GroupState:
        """Stack the arrays the terms read (one env: its own views)."""
        return _GroupState(self.stacked('qpos'), self.stacked('qvel'), self.stacked('ctrl'),
                           self.stacked('cfrc_ext') if self._first._reads_contact else None)


def _planar_positions(group: EnvGroup, qpos: np.ndarray | None = None) -> np.ndarray:
    """World (x, y) [N, 2] ([2] for one env) whose rate the objective reads.

    Root, mass centre or torso frame: the mass centre is gymnasium Humanoid-v5's
    ``mass_center`` of ``data.xipos``, the torso frame Ant-v5's ``xpos``, both as ``mj_step``
    leaves them (evaluated inside the step's last integrator stage), as gymnasium reads them.
    ``qpos``: the envs' stacked qpos, if at hand. Always a new array (not a view of the
    simulation).
    """
    env = group.envs[0]
    if env.task_spec.velocity_of == 'com':
        mass = env.model.body_mass
        # for N states the einsum adds the bodies in the one-state order (checked on 19 200
        # random mass centres; the bit-equality test of VectorEnv guards it); matmul does not
        return (np.einsum('b,...bj->...j', mass, group.stacked('xipos')) / mass.sum())[..., 0:2]
    if env.task_spec.velocity_of == 'body':
        return group.stacked('xpos')[..., env.robot.limbs[0].body_id, :2].copy()
    robot = env.robot
    if qpos is None:
        qpos = group.stacked('qpos')
    positions = np.zeros(qpos.shape[:-1] + (2,))  # y = 0 for a planar root
    positions[..., 0] = robot.forward_position(qpos)
    if robot.root.kind == 'free':
        positions[..., 1] = qpos[..., robot.root.qpos_adr[0] + 1]
    return positions


def _finite(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    """Which states [N, nq], [N, nv] have not diverged (no NaN/Inf in qpos or qvel)."""
    return _all_last(np.isfinite(qpos)) & _all_last(np.isfinite(qvel))


def _all_last(values: np.ndarray) -> np.ndarray:
    """Whether all of the last axis is true (the ufunc reduce, without np.all's wrapper)."""
    return np.logical_and.reduce(values, axis=-1)


def _healthy(env: LocomotionEnv, qpos: np.ndarray, qvel: np.ndarray,
             finite: np.ndarray) -> np.ndarray:
    """Apply the task's health test to states [N, nq], [N, nv]: ``finite`` [N] and in limits.

    The limits: torso height, pitch and state range (gymnasium-v5 semantics). For one state
    the height and pitch are floats and their tests Python's, joined with ``finite`` last.
    """
    task, robot = env.task_spec, env.robot
    within = True
    if task.healthy_z is not None:
        low, high = task.healthy_z
        z = robot.torso_height(qpos)
        within = (low <= z) & (z <= high) if task.healthy_z_closed else (low < z) & (z < high)
    if task.max_abs_angle is not None:
        within = within & (abs(robot.torso_pitch(qpos)) < task.max_abs_angle)
    if task.max_abs_state is not None:
        state = np.concatenate([qpos, qvel], axis=-1)[..., 2:]
        within = within & _all_last(np.abs(state) < task.max_abs_state)
    return finite & within


def _term(env: LocomotionEnv, term: Term, state: _GroupState, velocity: np.ndarray,
          healthy: np.ndarray) -> np.ndarray:
    """Weight times the term's quantity [N], clipped at ``max_cost`` (gymnasium's order).

    A weight of 1 is not multiplied (x * 1.0 is x in IEEE arithmetic, -0.0 and NaN included).
    """
    value = QUANTITIES[term.quantity](env, state, velocity, healthy)
    if term.weight != 1.0:
        value = term.weight * value
    return value if term.max_cost is None else np.minimum(value, term.max_cost)


def _ctrl_squared(env: LocomotionEnv, state: _GroupState) -> np.ndarray:
    """|ctrl|^2 [N] of the controls the simulator received, summed as gymnasium sums it.

    Each row is summed in the source MJCF's actuator order, as gymnasium sums it.
    """
    return _row_sums(np.square(state.ctrl.take(env._ctrl_order, -1)))


def _contact_squared(env: LocomotionEnv, state: _GroupState) -> np.ndarray:
    """|cfrc_ext|^2 [N] after the step, each force clipped as the task says (Ant)."""
    forces = state.cfrc_ext.reshape(state.cfrc_ext.shape[:-2] + (-1,))
    clip = env.task_spec.contact_force_clip
    if clip is not None:
        forces = np.clip(forces, -clip, clip)
    return _row_sums(np.square(forces))


def _row_sums(values: np.ndarray) -> np.ndarray:
    """``np.sum`` of each row [N, K] on its own ([K]: its sum): the float of one env's sum.

    ``np.sum(values, axis=1)`` may add in another order (for [3, 17] numpy sums down the
    columns, one add per element, not the pairwise sum of a row): the last bit differs.
    """
    if values.ndim == 1:
        return np.add.reduce(values)
    return np.array([np.add.reduce(row) for row in values])


@lru_cache(maxsize=None)
def _source_targets(source: Path) -> tuple[str, ...]:
    with warnings.catch_warnings():  # gymnasium's humanoid.xml uses a deprecated attribute
        warnings.simplefilter('ignore', UserWarning)
        return tuple(a.target for a in mujoco.MjSpec.from_file(str(source)).actuators)


def _source_actuator_order(robot: Robot) -> np.ndarray:
    """Actuator indices in the source MJCF's order (added segments last).

    The robot orders actuators by limb; summing |ctrl|^2 in the source's order keeps the
    floating-point sum, hence the reward, bit-equal to gymnasium's.
    """
    targets = _source_targets(robot.family.source)
    rank = [targets.index(j) if j in targets else len(targets) + i
            for i, j in enumerate(robot.joint_names)]
    return np.argsort(rank, kind='stable')


def _heading(velocity: np.ndarray, degrees: float) -> np.ndarray:
    """Velocity [N, 2] ([2]) along the heading: one ``ddot`` per row, as ``np.dot`` of one."""
    heading = degrees / 180.0 * np.pi
    direction = np.array([[np.cos(heading)], [np.sin(heading)]])
    return np.matmul(velocity[..., None, :], direction)[..., 0, 0]


# What each task kind rewards (families.TASK_KINDS), from the planar velocities [N, 2], the
# group's states and the target; arrays [N].
OBJECTIVES: dict[str, Callable[[LocomotionEnv, _GroupState, np.ndarray, Any], np.ndarray]] = {
    'forward': lambda env, state, velocity, target: velocity[..., 0],
    'vel': lambda env, state, velocity, target: -np.abs(velocity[..., 0] - target),
    'dir': lambda env, state, velocity, target: _heading(velocity, target),
    'jump': lambda env, state, velocity, target: target * (
        env.robot.torso_height(state.qpos) - env._rest_height),
}

# How each quantity of families.TERM_QUANTITIES is measured after the physics step, over the
# group's states: arrays [N].
QUANTITIES: dict[str, Callable[[LocomotionEnv, _GroupState, np.ndarray, np.ndarray],
                               np.ndarray]] = {
    'objective': lambda env, state, velocity, healthy: OBJECTIVES[env.task.kind](
        env, state, velocity, env.task.target),
    'healthy': lambda env, state, velocity, healthy: healthy.astype(np.float64),
    'alive': lambda env, state, velocity, healthy: np.ones(np.shape(healthy)),
    'ctrl': lambda env, state, velocity, healthy: _ctrl_squared(env, state),
    'contact': lambda env, state, velocity, healthy: _contact_squared(env, state),
}
