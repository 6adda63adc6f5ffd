"""Offline rollouts of exported policies in MuJoCo, through the same runtime the node uses."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from synergy_control.envs import LocomotionEnv
from synergy_control.runtime import PolicyRuntime


@dataclass
class Episode:
    """One rollout's return, length and whether it ended by termination."""

    seed: int
    episode_return: float
    length: int
    terminated: bool
    distance: float


def rollout(runtime: PolicyRuntime, env: LocomotionEnv, seed: int) -> Episode:
    """One episode: state → runtime → effort commands → environment, like the ROS loop."""
    env.reset(seed=seed)
    x0 = env.robot.forward_position(env.data.qpos)
    total, steps, terminated, truncated = 0.0, 0, False, False
    while not (terminated or truncated):
        commands = runtime.act(env.data.qpos, env.data.qvel).commands
        _, reward, terminated, truncated, _ = env.step_command(commands)
        total += reward
        steps += 1
    return Episode(seed, total, steps, terminated, env.robot.forward_position(env.data.qpos) - x0)


def evaluate(policy: str | Path, robot: str | None = None, episodes: int = 10,
             seed: int = 0) -> dict:
    """Roll out ``episodes`` episodes (seeds seed, seed+1, ...) and summarise returns."""
    runtime = PolicyRuntime(policy, robot)
    env = LocomotionEnv(runtime.robot, obs_mode=runtime.card.observation['mode'])
    results = [rollout(runtime, env, seed + i) for i in range(episodes)]
    returns = np.array([r.episode_return for r in results])
    lengths = np.array([r.length for r in results])
    return {'policy': str(policy), 'robot': runtime.robot.name, 'episodes': episodes,
            'seed': seed, 'mean_return': float(returns.mean()),
            'std_return': float(returns.std()), 'mean_length': float(lengths.mean()),
            'min_return': float(returns.min()), 'max_return': float(returns.max()),
            'results': [asdict(r) for r in results]}
