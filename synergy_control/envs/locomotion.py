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
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

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

        A group of one in :func:`step_group`, the step the vectorised environments take.
        """
        batch = step_group([self], np.asarray(action)[None])
        info = {f'reward_{name}': float(value[0]) for name, value in batch.terms.items()}
        info.update({'x_position': self.robot.forward_position(self.data.qpos),
                     'x_velocity': float(batch.velocity[0, 0]),
                     'y_velocity': float(batch.velocity[0, 1]),
                     'torso_height': self.robot.torso_height(self.data.qpos)})
        return (batch.obs[0], float(batch.reward[0]), bool(batch.terminated[0]),
                bool(batch.truncated[0]), info)

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
        return _planar_positions([self])[0]

    def set_state(self, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Set the simulator state and recompute derived quantities."""
        self.data.qpos[:] = qpos
        self.data.qvel[:] = qvel
        mujoco.mj_forward(self.model, self.data)

    def is_healthy(self) -> bool:
        """Apply the task's health test to qpos/qvel (gymnasium-v5 semantics)."""
        qpos, qvel = self.data.qpos[None], self.data.qvel[None]
        return bool(_finite(qpos, qvel)[0] and _within_task_limits(self, qpos, qvel)[0])

    def height_above_rest(self) -> float:
        """Root height above its rest value (the EAR jump task's z: qpos[1] of the cheetah)."""
        return self.robot.torso_height(self.data.qpos) - self._rest_height


class _DataArrays:
    """An env's ``MjData`` arrays that a step reads, viewed once.

    Each attribute read of an ``MjData`` array makes a new numpy view (~1 µs); a group step
    reads several per env.
    """

    def __init__(self, data: mujoco.MjData):
        self.qpos, self.qvel, self.ctrl = data.qpos, data.qvel, data.ctrl
        self.cfrc_ext, self.xipos, self.xpos = data.cfrc_ext, data.xipos, data.xpos


@dataclass(frozen=True)
class GroupStep:
    """What :func:`step_group` returns: arrays over the group's environments."""

    obs: np.ndarray           # [N, obs] float64
    reward: np.ndarray        # [N]: sum(rewards) - sum(costs)
    terminated: np.ndarray    # [N] bool
    truncated: np.ndarray     # [N] bool (and not terminated)
    velocity: np.ndarray      # [N, 2]: planar velocity over the control period
    terms: dict[str, np.ndarray]  # 'quantity' -> [N] signed term (costs negative)


@dataclass(frozen=True)
class _GroupState:
    """The group's state after the physics step, stacked [N, ...] (what the terms read)."""

    qpos: np.ndarray
    qvel: np.ndarray
    ctrl: np.ndarray
    cfrc_ext: np.ndarray | None  # [N, nbody, 6], only where a term reads contact forces


def step_group(envs: Sequence[LocomotionEnv], actions: np.ndarray) -> GroupStep:
    """Step environments of one robot, task and observation mode with ``actions`` [N, nu].

    Each ``MjData`` is stepped as gymnasium's MujocoEnv does (``mj_step`` x frame_skip then
    ``mj_rnePostConstraint`` for contact forces); the velocity is the displacement of
    :meth:`LocomotionEnv.planar_position` over the period. Observation, reward terms, health,
    termination and truncation are then array operations over the N stacked states, each
    elementwise as the one-environment formula, so a group of one is :meth:`LocomotionEnv.step`
    bit for bit and a group of N equals N single steps.
    """
    env = envs[0]
    spec = env.task_spec
    ctrl = env.scaling.action_to_ctrl(np.asarray(actions, dtype=np.float64))  # clips to [-1, 1]
    before = _planar_positions(envs)
    model, frame_skip = env.model, env.robot.frame_skip
    for e, row in zip(envs, ctrl):
        e._arrays.ctrl[:] = row
        mujoco.mj_step(model, e.data, nstep=frame_skip)
        mujoco.mj_rnePostConstraint(model, e.data)
    arrays = [e._arrays for e in envs]
    qpos = np.array([a.qpos for a in arrays])
    velocity = (_planar_positions(envs, qpos) - before) / env.dt
    state = _GroupState(qpos, np.array([a.qvel for a in arrays]),
                        np.array([a.ctrl for a in arrays]),
                        np.array([a.cfrc_ext for a in arrays]) if env._reads_contact else None)
    finite = _finite(state.qpos, state.qvel)
    healthy = finite & _within_task_limits(env, state.qpos, state.qvel)
    rewards = [_term(env, t, state, velocity, healthy) for t in spec.rewards]
    costs = [_term(env, t, state, velocity, healthy) for t in spec.costs]
    # Python's sum order (0 + a + b ...), so the float equals the one-env sum
    reward = sum(rewards, np.zeros(len(envs))) - sum(costs, np.zeros(len(envs)))
    for e in envs:
        e.elapsed_steps += 1
    at_limit = np.array([e.elapsed_steps >= e.episode_steps for e in envs])
    # A diverged simulation ends the episode even for tasks that never terminate.
    terminated = ~finite | (spec.terminate_when_unhealthy & ~healthy)
    truncated = at_limit & ~terminated
    terms = {t.quantity: v for t, v in zip(spec.rewards, rewards)}
    terms.update({t.quantity: -v for t, v in zip(spec.costs, costs)})
    obs = env.observe.batch(state.qpos, state.qvel, state.ctrl)
    return GroupStep(obs, reward, terminated, truncated, velocity, terms)


def _planar_positions(envs: Sequence[LocomotionEnv],
                      qpos: np.ndarray | None = None) -> np.ndarray:
    """World (x, y) [N, 2] whose rate the objective reads: root, mass centre or torso frame.

    The mass centre is gymnasium Humanoid-v5's ``mass_center`` of ``data.xipos``, the torso
    frame Ant-v5's ``xpos``, both as ``mj_step`` leaves them (evaluated inside the step's last
    integrator stage), as gymnasium reads them. ``qpos``: the envs' stacked qpos, if at hand.
    """
    env = envs[0]
    if env.task_spec.velocity_of == 'com':
        mass = env.model.body_mass
        # the batched einsum adds the bodies in the one-env order (checked on 19 200 random
        # mass centres; the bit-equality test of VectorEnv guards it); matmul does not
        xipos = np.array([e._arrays.xipos for e in envs])
        return (np.einsum('b,nbj->nj', mass, xipos) / mass.sum())[:, 0:2]
    if env.task_spec.velocity_of == 'body':
        body = env.robot.limbs[0].body_id
        return np.array([e._arrays.xpos[body, :2] for e in envs])
    robot = env.robot
    if qpos is None:
        qpos = np.array([e._arrays.qpos for e in envs])
    positions = np.zeros((len(qpos), 2))  # y = 0 for a planar root
    positions[:, 0] = robot.forward_position(qpos)
    if robot.root.kind == 'free':
        positions[:, 1] = qpos[:, robot.root.qpos_adr[0] + 1]
    return positions


def _finite(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    """Which states [N, nq], [N, nv] have not diverged (no NaN/Inf in qpos or qvel)."""
    return np.isfinite(qpos).all(axis=1) & np.isfinite(qvel).all(axis=1)


def _within_task_limits(env: LocomotionEnv, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    """Apply the task's torso height, pitch and state-range tests to states [N, nq], [N, nv]."""
    task, robot = env.task_spec, env.robot
    within = np.ones(len(qpos), dtype=bool)
    if task.healthy_z is not None:
        low, high = task.healthy_z
        z = robot.torso_height(qpos)
        within &= (low <= z) & (z <= high) if task.healthy_z_closed else (low < z) & (z < high)
    if task.max_abs_angle is not None:
        within &= np.abs(robot.torso_pitch(qpos)) < task.max_abs_angle
    if task.max_abs_state is not None:
        state = np.concatenate([qpos, qvel], axis=1)[:, 2:]
        within &= np.all(np.abs(state) < task.max_abs_state, axis=1)
    return within


def _term(env: LocomotionEnv, term: Term, state: _GroupState, velocity: np.ndarray,
          healthy: np.ndarray) -> np.ndarray:
    """Weight times the term's quantity [N], clipped at ``max_cost`` (gymnasium's order)."""
    value = term.weight * QUANTITIES[term.quantity](env, state, velocity, healthy)
    return value if term.max_cost is None else np.minimum(value, term.max_cost)


def _ctrl_squared(env: LocomotionEnv, state: _GroupState) -> np.ndarray:
    """|ctrl|^2 [N] of the controls the simulator received, summed as gymnasium sums it.

    Each row is summed in the source MJCF's actuator order, as gymnasium sums it.
    """
    return _row_sums(np.square(state.ctrl[:, env._ctrl_order]))


def _contact_squared(env: LocomotionEnv, state: _GroupState) -> np.ndarray:
    """|cfrc_ext|^2 [N] after the step, each force clipped as the task says (Ant)."""
    forces = state.cfrc_ext.reshape(len(state.cfrc_ext), -1)
    clip = env.task_spec.contact_force_clip
    if clip is not None:
        forces = np.clip(forces, -clip, clip)
    return _row_sums(np.square(forces))


def _row_sums(values: np.ndarray) -> np.ndarray:
    """``np.sum`` of each row [N, K] on its own: the float of one env's 1-D sum.

    ``np.sum(values, axis=1)`` may add in another order (for [3, 17] numpy sums down the
    columns, one add per element, not the pairwise sum of a row): the last bit differs.
    """
    return np.array([np.sum(row) for row in values])


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
    """Velocity [N, 2] along the heading: one ``ddot`` per row, as ``np.dot`` of one row."""
    heading = degrees / 180.0 * np.pi
    direction = np.array([[np.cos(heading)], [np.sin(heading)]])
    return np.matmul(velocity[:, None, :], direction).reshape(-1)


# What each task kind rewards (families.TASK_KINDS), from the planar velocities [N, 2], the
# group's states and the target; arrays [N].
OBJECTIVES: dict[str, Callable[[LocomotionEnv, _GroupState, np.ndarray, Any], np.ndarray]] = {
    'forward': lambda env, state, velocity, target: velocity[:, 0],
    'vel': lambda env, state, velocity, target: -np.abs(velocity[:, 0] - target),
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
    'alive': lambda env, state, velocity, healthy: np.ones(len(healthy)),
    'ctrl': lambda env, state, velocity, healthy: _ctrl_squared(env, state),
    'contact': lambda env, state, velocity, healthy: _contact_squared(env, state),
}
