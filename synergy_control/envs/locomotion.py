"""Gymnasium locomotion environments for every robot variant (SMP / gymnasium-v5 task).

reward = forward_weight · Δx/Δt + healthy_reward · healthy − ctrl_cost_weight · |a|²,
episodes end on termination (unhealthy: torso height, pitch, state range, non-finite state)
or on truncation at ``task.episode_steps``; the two are reported apart, so that learners
bootstrap through time-limit ends. For the full walker and hopper the dynamics, reward,
termination, reset noise and flat observation equal gymnasium's Walker2d-v5 and Hopper-v5.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import mujoco
import numpy as np

from synergy_control.actions import ActionScaling
from synergy_control.observation import ObservationBuilder
from synergy_control.robots import Robot, get_robot


class LocomotionEnv(gymnasium.Env):
    """Forward locomotion of one morphology variant."""

    metadata = {'render_modes': ['rgb_array']}

    def __init__(self, robot: str | Robot, obs_mode: str = 'flat',
                 episode_steps: int | None = None, render_mode: str | None = None,
                 width: int = 320, height: int = 240):
        self.robot = get_robot(robot) if isinstance(robot, str) else robot
        self.task = self.robot.task
        self.model = self.robot.model
        self.data = mujoco.MjData(self.model)
        self.observe = ObservationBuilder(self.robot, obs_mode)
        self.scaling = ActionScaling.from_robot(self.robot)
        self.episode_steps = episode_steps or self.task.episode_steps
        self.dt = self.robot.control_period
        self.render_mode = render_mode
        self._render_size = (height, width)
        self._renderer: mujoco.Renderer | None = None
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (self.observe.size,),
                                                      np.float64)
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (self.model.nu,), np.float32)
        self.elapsed_steps = 0

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Start an episode from the model's rest pose plus uniform reset noise."""
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        noise = self.task.reset_noise
        qpos = self.model.qpos0 + self.np_random.uniform(-noise, noise, self.model.nq)
        qvel = self.np_random.uniform(-noise, noise, self.model.nv)
        self.set_state(qpos, qvel)
        self.elapsed_steps = 0
        return self.observation(), {'x_position': self.robot.forward_position(self.data.qpos)}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Apply a policy action in [-1, 1] for one control period (frame_skip physics steps)."""
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        x_before = self.robot.forward_position(self.data.qpos)
        self.data.ctrl[:] = self.scaling.action_to_ctrl(action)
        mujoco.mj_step(self.model, self.data, nstep=self.robot.frame_skip)
        x_after = self.robot.forward_position(self.data.qpos)
        x_velocity = (x_after - x_before) / self.dt
        finite = self.state_is_finite()
        healthy = finite and self._within_task_limits()
        forward = self.task.forward_weight * x_velocity
        survive = self.task.healthy_reward * healthy
        ctrl_cost = self.task.ctrl_cost_weight * float(np.sum(np.square(action)))
        reward = forward + survive - ctrl_cost
        self.elapsed_steps += 1
        # A diverged simulation ends the episode even for tasks that never terminate.
        terminated = not finite or bool(self.task.terminate_when_unhealthy and not healthy)
        truncated = self.elapsed_steps >= self.episode_steps and not terminated
        info = {'x_position': x_after, 'x_velocity': x_velocity, 'reward_forward': forward,
                'reward_survive': survive, 'reward_ctrl': -ctrl_cost,
                'torso_height': self.robot.torso_height(self.data.qpos)}
        return self.observation(), float(reward), terminated, truncated, info

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
        """Build the policy observation of the current state."""
        return self.observe(self.data.qpos, self.data.qvel)

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
        task, qpos, qvel = self.task, self.data.qpos, self.data.qvel
        if task.healthy_z is not None:
            low, high = task.healthy_z
            if not low < self.robot.torso_height(qpos) < high:
                return False
        pitch = abs(self.robot.torso_pitch(qpos))
        if task.max_abs_angle is not None and not pitch < task.max_abs_angle:
            return False
        if task.max_abs_state is not None:
            state = np.concatenate([qpos, qvel])[2:]
            if not np.all(np.abs(state) < task.max_abs_state):
                return False
        return True
