"""SAR's activation data: a play policy's actuator activations, per episode, with its returns.

The activations are the actions the environment applies (the policy's action clipped to
[-1, 1]), recorded through the one rollout loop. The policy is an exported ONNX policy (run
through the runtime, as the node runs it; deterministic, optionally with Gaussian action
noise) or a training checkpoint / run directory (stochastic by default, as the tutorial
rolls out its SAC play policy). Only the episodes at or above a return percentile are kept
for the basis (the tutorial keeps the top 20 %). ROS-free; torch only for checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synergy_control.envs import LocomotionEnv
from synergy_control.methods.sar.basis import SynergyBasis
from synergy_control.rollout import Policy, rollout

#: builds the env's policy: (env, rng) → observation → action in [-1, 1]
PolicyFactory = Callable[[LocomotionEnv, np.random.Generator], Policy]


@dataclass
class Recording:
    """Per-episode activations [T, A] in [-1, 1] and returns of one policy on one robot."""

    robot: str
    policy: str
    activations: list[np.ndarray]
    returns: np.ndarray

    def threshold(self, percentile: float) -> float:
        """Return the episode return at ``percentile`` (0–100) of the recorded episodes."""
        if not 0.0 <= percentile <= 100.0:
            raise ValueError(f'return percentile must be in [0, 100], got {percentile}')
        return float(np.percentile(self.returns, percentile))

    def kept(self, percentile: float) -> np.ndarray:
        """Return the indices of the episodes whose return reaches the ``percentile``."""
        return np.flatnonzero(self.returns >= self.threshold(percentile))

    def samples(self, percentile: float) -> np.ndarray:
        """Activations [N, A] of the kept episodes, stacked."""
        return np.concatenate([self.activations[i] for i in self.kept(percentile)])

    def summary(self, percentile: float) -> dict:
        """Describe the data for the basis file's ``fit``: robot, policy, episodes kept."""
        kept = self.kept(percentile)
        return {'robot': self.robot, 'policy': self.policy,
                'episodes': len(self.returns), 'episodes_kept': int(len(kept)),
                'return_percentile': float(percentile),
                'return_threshold': self.threshold(percentile),
                'mean_return': float(self.returns.mean()),
                'mean_return_kept': float(self.returns[kept].mean())}


def onnx_policy(path: str | Path, robot: str | None,
                noise: float) -> tuple[str, str, PolicyFactory]:
    """Robot name, observation mode and policy factory of an exported policy (torch-free)."""
    from synergy_control.runtime import PolicyRuntime
    runtime = PolicyRuntime(path, robot)

    def factory(env: LocomotionEnv, rng: np.random.Generator) -> Policy:
        def act(_observation: np.ndarray) -> np.ndarray:
            action = runtime.act(env.data.qpos, env.data.qvel, env.data.ctrl).action
            return action + noise * rng.standard_normal(action.shape) if noise else action
        return act
    return runtime.robot.name, runtime.card.observation['mode'], factory


def checkpoint_policy(source: str | Path, robot: str | None,
                      stochastic: bool) -> tuple[str, str, PolicyFactory]:
    """Robot, observation mode and policy factory of a checkpoint or run directory (torch)."""
    import torch

    from synergy_control.training.checkpoint import agent_from_checkpoint, load_checkpoint
    from synergy_control.training.config import config_from_dict
    from synergy_control.export.trained import export_robot, resolve_checkpoint
    state = load_checkpoint(resolve_checkpoint(source))
    config = config_from_dict(state['config'])
    name = export_robot(config, robot)
    agent = agent_from_checkpoint(state)
    multi = len(agent.context.robots) > 1

    def factory(env: LocomotionEnv, rng: np.random.Generator) -> Policy:
        torch.manual_seed(int(rng.integers(2**31)))
        return lambda obs: agent.act(obs, deterministic=not stochastic,
                                     robot=name if multi else None)
    return name, config.obs_mode, factory


def policy_factory(policy: str | Path, robot: str | None, stochastic: bool,
                   noise: float) -> tuple[str, str, PolicyFactory]:
    """Robot, observation mode and policy factory of an ``.onnx`` file or a checkpoint."""
    if noise < 0:
        raise ValueError(f'action noise must be >= 0, got {noise}')
    if Path(policy).suffix == '.onnx':
        return onnx_policy(policy, robot, noise)
    return checkpoint_policy(policy, robot, stochastic)


def projected_returns(policy: str | Path, basis: SynergyBasis, robot: str | None = None,
                      episodes: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return the returns of the policy (deterministic) as it is and acting through the basis.

    Projected: each action replaced by ``clip(decode(z), -1, 1)`` for the least-squares
    synergy values ``z = clip((a - offset) · matrix⁺, -1, 1)``, i.e. the policy acting through
    the basis. Whether the play policy's gait survives tells whether L synergies suffice.
    """
    name, obs_mode, factory = policy_factory(policy, robot, stochastic=False, noise=0.0)
    env = LocomotionEnv(name, obs_mode=obs_mode)
    act = factory(env, np.random.default_rng(seed))
    inverse = np.linalg.pinv(basis.matrix)

    def projected(obs: np.ndarray) -> np.ndarray:
        z = np.clip((np.asarray(act(obs), dtype=np.float64) - basis.offset) @ inverse, -1, 1)
        return np.clip(basis.decode(z), -1.0, 1.0)
    returns = [[rollout(env, p, seed + i).episode_return for i in range(episodes)]
               for p in (act, projected)]
    env.close()
    return np.asarray(returns[0]), np.asarray(returns[1])


def record(policy: str | Path, robot: str | None = None, episodes: int = 100, seed: int = 0,
           *, stochastic: bool = True, noise: float = 0.0,
           max_steps: int | None = None) -> Recording:
    """Roll ``policy`` out for ``episodes`` episodes (seeds seed, seed+1, ...) and record.

    ``policy``: an ``.onnx`` file (``noise``: std of Gaussian noise added to its action) or a
    checkpoint / run directory (``stochastic``: sample the learner's exploration policy).
    """
    if episodes < 1:
        raise ValueError(f'episodes must be >= 1, got {episodes}')
    name, obs_mode, factory = policy_factory(policy, robot, stochastic, noise)
    env = LocomotionEnv(name, obs_mode=obs_mode)
    act = factory(env, np.random.default_rng(seed))
    activations, returns = [], []
    for episode in range(episodes):
        applied: list[np.ndarray] = []

        def recorded(obs: np.ndarray) -> np.ndarray:
            action = np.clip(np.asarray(act(obs), dtype=np.float64), -1.0, 1.0)
            applied.append(action)  # what env.step applies (it clips the same way)
            return action
        returns.append(rollout(env, recorded, seed + episode, max_steps=max_steps).episode_return)
        activations.append(np.asarray(applied))
    env.close()
    return Recording(name, str(policy), activations, np.asarray(returns))
