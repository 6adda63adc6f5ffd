"""Offline rollouts of exported policies in MuJoCo, through the same runtime the node uses."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from synergy_control.envs import LocomotionEnv
from synergy_control.rollout import Episode, Policy, rollout
from synergy_control.runtime import PolicyRuntime


def runtime_policy(runtime: PolicyRuntime, env: LocomotionEnv) -> Policy:
    """Return the runtime as an effort-command policy of ``env``: state → commands, as the node."""
    return lambda _observation: runtime.act(env.data.qpos, env.data.qvel, env.data.ctrl).commands


def run_episode(runtime: PolicyRuntime, env: LocomotionEnv, seed: int) -> Episode:
    """One episode: state → runtime → effort commands → environment, like the ROS loop."""
    return rollout(env, runtime_policy(runtime, env), seed, commands=True)


def evaluate(policy: str | Path, robot: str | None = None, episodes: int = 10,
             seed: int = 0) -> dict:
    """Roll out ``episodes`` episodes (seeds seed, seed+1, ...) and summarise returns."""
    runtime = PolicyRuntime(policy, robot)
    env = LocomotionEnv(runtime.robot, obs_mode=runtime.card.observation['mode'])
    results = [run_episode(runtime, env, seed + i) for i in range(episodes)]
    returns = np.array([r.episode_return for r in results])
    lengths = np.array([r.length for r in results])
    return {'policy': str(policy), 'robot': runtime.robot.name, 'episodes': episodes,
            'seed': seed, 'mean_return': float(returns.mean()),
            'std_return': float(returns.std()), 'mean_length': float(lengths.mean()),
            'min_return': float(returns.min()), 'max_return': float(returns.max()),
            'results': [asdict(r) for r in results]}
