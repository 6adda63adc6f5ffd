"""Offline rollouts of exported policies in MuJoCo, through the same runtime the node uses."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from synergy_control.envs import LocomotionEnv
from synergy_control.methods.ear.tasks import velocity_task
from synergy_control.robots import Task
from synergy_control.rollout import Episode, Policy, rollout
from synergy_control.runtime import PolicyRuntime


def runtime_policy(runtime: PolicyRuntime, env: LocomotionEnv) -> Policy:
    """Return the runtime as an effort-command policy of ``env``: state → commands, as the node."""
    return lambda _observation: runtime.act(env.data.qpos, env.data.qvel, env.data.ctrl).commands


def run_episode(runtime: PolicyRuntime, env: LocomotionEnv, seed: int) -> Episode:
    """One episode: state → runtime → effort commands → environment, like the ROS loop."""
    return rollout(env, runtime_policy(runtime, env), seed, commands=True)


def command_for(runtime: PolicyRuntime, task: str | None, command: str | None) -> str | None:
    """Return the task command that makes ``runtime`` pursue the environment task ``task``.

    ``command`` wins; otherwise a named task of the card, or for an untrained speed
    ``vel:<v>`` the blend of the two nearest trained speeds (what the node does with a
    velocity command); None leaves the card's default.
    """
    if command is not None or task is None or not runtime.task_names:
        return command
    parsed = Task.parse(task)
    named = {str(Task.parse(name)): name for name in runtime.task_names}
    if str(parsed) in named:
        return named[str(parsed)]
    if parsed.kind == 'vel':
        return velocity_task(parsed.target, runtime.card.tasks['embeddings'])[0]
    raise ValueError(f"task '{task}' is not one of the policy's tasks "
                     f"({', '.join(runtime.task_names)}): give the task command to use")


def evaluate(policy: str | Path, robot: str | None = None, episodes: int = 10,
             seed: int = 0, task: str | None = None, command: str | None = None) -> dict:
    """Roll out ``episodes`` episodes (seeds seed, seed+1, ...) and summarise returns.

    ``task`` is the environment's task (its reward, e.g. ``vel:4.5``); a multi-task policy
    is commanded by ``command`` (a task command, see :func:`command_for`).
    """
    runtime = PolicyRuntime(policy, robot)
    command = command_for(runtime, task, command)
    if command is not None:
        runtime.set_task(command)
    env = LocomotionEnv(runtime.robot, obs_mode=runtime.card.observation['mode'], task=task)
    results = [run_episode(runtime, env, seed + i) for i in range(episodes)]
    returns = np.array([r.episode_return for r in results])
    lengths = np.array([r.length for r in results])
    speeds = np.array([r.distance / (r.length * runtime.robot.control_period) for r in results])
    return {'policy': str(policy), 'robot': runtime.robot.name, 'task': str(env.task),
            'command': runtime.task, 'episodes': episodes,
            'seed': seed, 'mean_return': float(returns.mean()),
            'std_return': float(returns.std()), 'mean_length': float(lengths.mean()),
            'min_return': float(returns.min()), 'max_return': float(returns.max()),
            'mean_speed': float(speeds.mean()),
            'results': [asdict(r) for r in results]}
