"""Offline rollouts of exported policies in MuJoCo, through the same runtime the node uses."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from synergy_control.envs import LocomotionEnv
from synergy_control.robots import Robot, get_robot
from synergy_control.rollout import Episode, Policy, rollout
from synergy_control.runtime import PolicyRuntime
from synergy_control.task_embedding import command_for_task


def runtime_policy(runtime: PolicyRuntime, env: LocomotionEnv) -> Policy:
    """Return the runtime as an effort-command policy of ``env``: state → commands, as the node."""
    return lambda _observation: runtime.act(env.data.qpos, env.data.qvel, env.data.ctrl).commands


def run_episode(runtime: PolicyRuntime, env: LocomotionEnv, seed: int) -> Episode:
    """One episode: state → runtime → effort commands → environment, like the ROS loop."""
    return rollout(env, runtime_policy(runtime, env), seed, commands=True)


def command_for(runtime: PolicyRuntime, task: str | None, command: str | None) -> str | None:
    """Return ``command``, else the command for ``task`` (None: the card's default task)."""
    if command is not None or task is None or not runtime.task_names:
        return command
    return command_for_task(task, runtime.card.tasks['embeddings'])


def same_body_world(robot: Robot, world: str) -> Robot:
    """Return variant ``world`` if it moves ``robot``'s body (another floor); else ValueError."""
    other = get_robot(world)
    for fact in ('joint_names', 'actuator_names', 'control_period'):
        if getattr(other, fact) != getattr(robot, fact):
            raise ValueError(f"world '{world}' is not robot '{robot.name}' on other ground: its "
                             f'{fact} differ ({getattr(other, fact)} against '
                             f'{getattr(robot, fact)})')
    if (other.model.nq, other.model.nv) != (robot.model.nq, robot.model.nv):
        raise ValueError(f"world '{world}' has another state size than robot '{robot.name}'")
    return other


def evaluate(policy: str | Path, robot: str | None = None, episodes: int = 10,
             seed: int = 0, task: str | None = None, command: str | None = None,
             world: str | None = None) -> dict:
    """Roll out ``episodes`` episodes (seeds seed, seed+1, ...) and summarise returns.

    ``task`` is the environment's task (its reward, e.g. ``vel:4.5``); a multi-task policy
    is commanded by ``command`` (a task command), by default the one for ``task``
    (:func:`~synergy_control.task_embedding.command_for_task`). ``world`` simulates another
    variant of the same body (a terrain) under the policy made for ``robot``: how a
    flat-ground policy transfers, which the card's model hash refuses on the robot itself.
    """
    runtime = PolicyRuntime(policy, robot)
    command = command_for(runtime, task, command)
    if command is not None:
        runtime.set_task(command)
    simulated = runtime.robot if world is None else same_body_world(runtime.robot, world)
    env = LocomotionEnv(simulated, obs_mode=runtime.card.observation['mode'], task=task)
    results = [run_episode(runtime, env, seed + i) for i in range(episodes)]
    returns = np.array([r.episode_return for r in results])
    lengths = np.array([r.length for r in results])
    speeds = np.array([r.distance / (r.length * runtime.robot.control_period) for r in results])
    return {'policy': str(policy), 'robot': runtime.robot.name, 'world': simulated.name,
            'task': str(env.task),
            'command': runtime.task, 'episodes': episodes,
            'seed': seed, 'mean_return': float(returns.mean()),
            'std_return': float(returns.std()), 'mean_length': float(lengths.mean()),
            'min_return': float(returns.min()), 'max_return': float(returns.max()),
            'mean_speed': float(speeds.mean()),
            'results': [{**asdict(r), 'speed': float(v)} for r, v in zip(results, speeds)]}
