"""The one rollout loop: a policy steps a locomotion environment (torch-free).

Offline evaluation, rendering, the trainer's evaluation, the export parity samples and the
lockstep benchmark all step environments through :func:`rollout`, so an episode's return,
length and end mean the same thing everywhere. A policy maps the observation to an action in
[-1, 1], or (``commands=True``) to effort commands, as the ROS bridge receives them; a policy
that reads the state itself (the ONNX runtime, as the node does) ignores the observation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from synergy_control.envs import LocomotionEnv

Policy = Callable[[np.ndarray], np.ndarray]
Observer = Callable[[np.ndarray], None]


@dataclass
class Episode:
    """One rollout: its return, length, how it ended, how far the robot went and how high.

    ``terminated``: ended unhealthy; ``truncated``: reached the task's time limit; neither:
    stopped at ``max_steps``. ``mean_height``: the root's mean height above its rest height
    after each step (what EAR's jump tasks reward); ``max_height``: its peak.
    """

    seed: int | None
    episode_return: float
    length: int
    terminated: bool
    truncated: bool
    distance: float
    mean_height: float
    max_height: float


def rollout(env: LocomotionEnv, policy: Policy, seed: int | None, *, commands: bool = False,
            observe: Observer | None = None, max_steps: int | None = None) -> Episode:
    """Run one episode from ``env.reset(seed=seed)``.

    :param policy: observation → action in [-1, 1] (or effort commands, see ``commands``).
    :param observe: called with each observation the policy acts on (frames, samples).
    :param max_steps: stop after this many steps even if the episode goes on.
    """
    obs, _ = env.reset(seed=seed)
    step = env.step_command if commands else env.step
    x0 = env.robot.forward_position(env.data.qpos)
    total, height, peak, length, terminated, truncated = 0.0, 0.0, -np.inf, 0, False, False
    while not (terminated or truncated) and (max_steps is None or length < max_steps):
        if observe is not None:
            observe(obs)
        obs, reward, terminated, truncated, _ = step(policy(obs))
        total += reward
        above = env.height_above_rest()
        height, peak, length = height + above, max(peak, above), length + 1
    return Episode(seed, total, length, terminated, truncated,
                   env.robot.forward_position(env.data.qpos) - x0, height / max(length, 1),
                   peak if length else 0.0)


def rollout_steps(env: LocomotionEnv, policy: Policy, steps: int, seed: int, *,
                  commands: bool = False, observe: Observer | None = None) -> list[Episode]:
    """Run ``steps`` control steps, starting a new episode (seed, seed + 1, ...) at each end."""
    episodes: list[Episode] = []
    while (done := sum(e.length for e in episodes)) < steps:
        episodes.append(rollout(env, policy, seed + len(episodes), commands=commands,
                                observe=observe, max_steps=steps - done))
    return episodes
