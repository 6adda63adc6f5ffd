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
from dataclasses import replace
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

        As gymnasium's MujocoEnv: ``mj_step`` then ``mj_rnePostConstraint`` (contact forces);
        the velocity is the displacement of :meth:`planar_position` over the period.
        """
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        before = self.planar_position()
        self.data.ctrl[:] = self.scaling.action_to_ctrl(action)
        mujoco.mj_step(self.model, self.data, nstep=self.robot.frame_skip)
        mujoco.mj_rnePostConstraint(self.model, self.data)
        velocity = (self.planar_position() - before) / self.dt
        finite = self.state_is_finite()
        healthy = finite and self._within_task_limits()
        spec = self.task_spec
        rewards = [self._term(t, velocity, healthy) for t in spec.rewards]
        costs = [self._term(t, velocity, healthy) for t in spec.costs]
        reward = sum(rewards) - sum(costs)
        self.elapsed_steps += 1
        # A diverged simulation ends the episode even for tasks that never terminate.
        terminated = not finite or bool(spec.terminate_when_unhealthy and not healthy)
        truncated = self.elapsed_steps >= self.episode_steps and not terminated
        info = {f'reward_{t.quantity}': v for t, v in zip(spec.rewards, rewards)}
        info.update({f'reward_{t.quantity}': -v for t, v in zip(spec.costs, costs)})
        info.update({'x_position': self.robot.forward_position(self.data.qpos),
                     'x_velocity': float(velocity[0]), 'y_velocity': float(velocity[1]),
                     'torso_height': self.robot.torso_height(self.data.qpos)})
        return self.observation(), float(reward), terminated, truncated, info

    def _term(self, term: Term, velocity: np.ndarray, healthy: bool) -> float:
        """Weight times the term's quantity, clipped at ``max_cost`` (gymnasium's order)."""
        value = term.weight * QUANTITIES[term.quantity](self, velocity, healthy)
        return value if term.max_cost is None else min(value, term.max_cost)

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
        """World (x, y) whose rate the objective reads: root, mass centre or torso frame.

        The mass centre is gymnasium Humanoid-v5's ``mass_center`` of ``data.xipos``, the
        torso frame Ant-v5's ``xpos``, both as ``mj_step`` leaves them (evaluated inside the
        step's last integrator stage), as gymnasium reads them.
        """
        if self.task_spec.velocity_of == 'com':
            mass = self.model.body_mass
            return (np.einsum('b,bj->j', mass, self.data.xipos) / mass.sum())[0:2].copy()
        if self.task_spec.velocity_of == 'body':
            return self.data.xpos[self.robot.limbs[0].body_id, :2].copy()
        qpos = self.data.qpos
        y = qpos[self.robot.root.qpos_adr[0] + 1] if self.robot.root.kind == 'free' else 0.0
        return np.array([self.robot.forward_position(qpos), y])

    def set_state(self, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Set the simulator state and recompute derived quantities."""
        self.data.qpos[:] = qpos
        self.data.qvel[:] = qvel
        mujoco.mj_forward(self.model, self.data)

    def is_healthy(self) -> bool:
        """Apply the task's health test to qpos/qvel (gymnasium-v5 semantics)."""
        return self.state_is_finite() and self._within_task_limits()

    def state_is_finite(self) -> bool:
        """Check that the simulation has not diverged (no NaN/Inf in qpos or qvel)."""
        return bool(np.all(np.isfinite(self.data.qpos)) and np.all(np.isfinite(self.data.qvel)))

    def _within_task_limits(self) -> bool:
        task, qpos, qvel = self.task_spec, self.data.qpos, self.data.qvel
        if task.healthy_z is not None:
            low, high = task.healthy_z
            z = self.robot.torso_height(qpos)
            if not (low <= z <= high if task.healthy_z_closed else low < z < high):
                return False
        pitch = abs(self.robot.torso_pitch(qpos))
        if task.max_abs_angle is not None and not pitch < task.max_abs_angle:
            return False
        if task.max_abs_state is not None:
            state = np.concatenate([qpos, qvel])[2:]
            if not np.all(np.abs(state) < task.max_abs_state):
                return False
        return True

    # ------------------------------------------------------------------ reward quantities
    def objective(self, velocity: np.ndarray) -> float:
        """Measure what this task kind rewards, from the planar velocity and the target."""
        return OBJECTIVES[self.task.kind](self, velocity, self.task.target)

    def ctrl_squared(self) -> float:
        """|ctrl|^2 of the controls the simulator received, summed as gymnasium sums it."""
        return float(np.sum(np.square(self.data.ctrl[self._ctrl_order])))

    def contact_squared(self) -> float:
        """|cfrc_ext|^2 after the step, each force clipped as the task says (Ant)."""
        forces = self.data.cfrc_ext
        clip = self.task_spec.contact_force_clip
        if clip is not None:
            forces = np.clip(forces, -clip, clip)
        return float(np.sum(np.square(forces)))

    def height_above_rest(self) -> float:
        """Root height above its rest value (the EAR jump task's z: qpos[1] of the cheetah)."""
        return self.robot.torso_height(self.data.qpos) - self._rest_height


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


def _heading(velocity: np.ndarray, degrees: float) -> float:
    heading = degrees / 180.0 * np.pi
    return float(np.dot(velocity, (np.cos(heading), np.sin(heading))))


# What each task kind rewards (families.TASK_KINDS), from the planar velocity and the target.
OBJECTIVES: dict[str, Callable[[LocomotionEnv, np.ndarray, Any], float]] = {
    'forward': lambda env, velocity, target: float(velocity[0]),
    'vel': lambda env, velocity, target: -abs(float(velocity[0]) - target),
    'dir': lambda env, velocity, target: _heading(velocity, target),
    'jump': lambda env, velocity, target: target * env.height_above_rest(),
}

# How each quantity of families.TERM_QUANTITIES is measured, after the physics step.
QUANTITIES: dict[str, Callable[[LocomotionEnv, np.ndarray, bool], float]] = {
    'objective': lambda env, velocity, healthy: env.objective(velocity),
    'healthy': lambda env, velocity, healthy: float(healthy),
    'alive': lambda env, velocity, healthy: 1.0,
    'ctrl': lambda env, velocity, healthy: env.ctrl_squared(),
    'contact': lambda env, velocity, healthy: env.contact_squared(),
}
