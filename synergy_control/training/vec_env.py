"""Vectorised environments: N locomotion environments stepped as one batch, in one process.

One process stepping its MuJoCo models in a loop is the design measured fastest here
(``benchmarks/vec_env_throughput.py``): a humanoid step is ~0.2 ms, so the per-step cost of
a worker process (a pipe round trip, pickling) would eat most of what a second core gives,
and the learner needs that core for its update anyway. A set of robots or tasks gives each
environment instance one entry, cycling through the training entries (env ``i`` drives entry
``i % len(names)``); observations and actions are zero-padded to the widest entry.

Auto-reset keeps what learners need apart: ``terminated`` (no bootstrap) and ``truncated``
(time limit: bootstrap from the final observation, returned in ``final_obs``) are separate,
and the observation returned for a finished environment is the first one of its next episode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synergy_control.envs import LocomotionEnv, make_env
from synergy_control.envs.locomotion import EnvGroup


@dataclass(frozen=True)
class FinishedEpisode:
    """An episode that ended in the last :meth:`VectorEnv.step`: which env, entry, return."""

    env_index: int
    name: str
    episode_return: float
    length: int


@dataclass
class VectorStep:
    """What one batched step returns (arrays over the N environments)."""

    obs: np.ndarray          # [N, obs_dim] float32: next observation (reset one where done)
    reward: np.ndarray       # [N] float64
    terminated: np.ndarray   # [N] bool
    truncated: np.ndarray    # [N] bool (and not terminated)
    final_obs: np.ndarray    # [N, obs_dim] float32: the last observation where done, else 0
    episodes: list[FinishedEpisode]


class VectorEnv:
    """``num_envs`` environments of the entries ``names`` (robot variants or ``robot@task``)."""

    def __init__(self, names: Sequence[str], num_envs: int, obs_mode: str = 'flat'):
        if num_envs < 1:
            raise ValueError(f'num_envs must be >= 1, got {num_envs}')
        self.names = list(names)
        self.envs: list[LocomotionEnv] = [make_env(self.names[i % len(self.names)], obs_mode)
                                          for i in range(num_envs)]
        self.entry = np.arange(num_envs) % len(self.names)  # each env's index into names
        self.obs_dims = [env.observation_space.shape[0] for env in self.envs]
        self.act_dims = [env.action_space.shape[0] for env in self.envs]
        self.obs_dim, self.act_dim = max(self.obs_dims), max(self.act_dims)
        self._returns = np.zeros(num_envs)
        self._lengths = np.zeros(num_envs, dtype=np.int64)
        self._obs = np.zeros((num_envs, self.obs_dim), np.float32)
        # the envs of each entry (one robot, task, observation), every len(names)-th from the
        # entry's first: stepped as one group, their rows addressed by a slice (a view)
        stride = len(self.names)
        self._groups = [(slice(entry, None, stride), EnvGroup(self.envs[entry::stride]),
                         self.act_dims[entry]) for entry in range(min(num_envs, stride))]

    @property
    def groups(self) -> list[tuple[slice, EnvGroup]]:
        """Each entry's envs, in entry order: their rows (a slice) and their group."""
        return [(members, group) for members, group, _ in self._groups]

    @property
    def num_envs(self) -> int:
        """Number of environment instances."""
        return len(self.envs)

    def reset(self, seed: int) -> np.ndarray:
        """Start every environment (env ``i`` seeded ``seed + 1000 i``); observations [N, obs]."""
        for i, env in enumerate(self.envs):
            self._obs[i] = 0.0
            self._obs[i, :self.obs_dims[i]] = env.reset(seed=seed + 1000 * i)[0]
        self._returns[:] = 0.0
        self._lengths[:] = 0
        return self._obs.copy()

    def step(self, actions: np.ndarray) -> VectorStep:
        """Step every environment with its own columns of ``actions`` [N, act_dim], auto-reset.

        The environments of one entry step as one group (:class:`EnvGroup`: observation,
        reward and termination as array operations over their states). A finished
        environment's next episode continues its own random stream (no reseed).
        """
        n = self.num_envs
        reward = np.zeros(n)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        for members, group, act_dim in self._groups:
            result = group.step(actions[members, :act_dim])
            reward[members], terminated[members] = result.reward, result.terminated
            truncated[members] = result.truncated
            self._obs[members, :result.obs.shape[-1]] = result.obs  # [size] for a group of one
        self._returns += reward
        self._lengths += 1
        final_obs = np.zeros((n, self.obs_dim), np.float32)
        episodes = []
        for i in np.flatnonzero(terminated | truncated):
            final_obs[i] = self._obs[i]
            episodes.append(FinishedEpisode(int(i), self.names[self.entry[i]],
                                            float(self._returns[i]), int(self._lengths[i])))
            self._returns[i], self._lengths[i] = 0.0, 0
            self._obs[i, :self.obs_dims[i]] = self.envs[i].reset()[0]
        return VectorStep(self._obs.copy(), reward, terminated, truncated, final_obs, episodes)

    def close(self) -> None:
        """Release every environment."""
        for env in self.envs:
            env.close()
