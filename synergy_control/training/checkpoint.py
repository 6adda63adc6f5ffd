"""Checkpoint files: atomic writes, validated reads, and rebuilding agents / policies."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from synergy_control.policies.registry import PolicyContext
from synergy_control.training.agent import OffPolicyAgent
from synergy_control.training.config import Config, config_from_dict
from synergy_control.training.ppo import PPO
from synergy_control.training.sac import SAC
from synergy_control.training.td3 import TD3

ALGORITHMS: dict[str, type[OffPolicyAgent]] = {'td3': TD3, 'sac': SAC, 'ppo': PPO}
REQUIRED_KEYS = ('format', 'config', 'agent', 'optimizers', 'counters')
FORMAT = 1


class CheckpointError(RuntimeError):
    """A checkpoint file that is missing, truncated, corrupt or not one of ours."""


def make_agent(config: Config, device: str | torch.device = 'cpu',
               context: PolicyContext | None = None) -> OffPolicyAgent:
    """Build the learner named by ``config.algorithm`` for the run's robots.

    ``context`` defaults to the config's training and zero-shot robots.
    """
    if context is None:
        context = PolicyContext.build(*config.robot_split(), config.obs_mode)
    return ALGORITHMS[config.algorithm](context, config, device)


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write atomically: tmp file in the same directory, fsync, rename over ``path``.

    A crash at any point leaves either the old file or the new one, never a partial one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save({'format': FORMAT, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    remove_stale_temporaries(path.parent, path.name)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove_stale_temporaries(directory: str | Path, name: str = '*') -> list[Path]:
    """Delete the ``.<name>.*.tmp`` files that a killed writer left in ``directory``.

    Only one process writes a run's checkpoints, so any such file not being written right
    now is garbage (a ``kill -9`` during :func:`save_checkpoint`).
    """
    stale = sorted(Path(directory).glob(f'.{name}.*.tmp'))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def load_checkpoint(path: str | Path, map_location: str | torch.device = 'cpu') -> dict:
    """Read a checkpoint (tensors only, no arbitrary pickles); CheckpointError if unusable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # zip, pickle and EOF errors all mean the same here
        raise CheckpointError(f"checkpoint '{path}' is corrupt or truncated: {err}") from err
    missing = [k for k in REQUIRED_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(f"checkpoint '{path}' is not a training checkpoint "
                              f'(missing {missing})')
    if state['format'] != FORMAT:
        raise CheckpointError(f"checkpoint '{path}' has format {state['format']}, "
                              f'expected {FORMAT}')
    return state


def agent_from_checkpoint(checkpoint: str | Path | dict,
                          device: str | torch.device = 'cpu') -> OffPolicyAgent:
    """Rebuild the agent (networks, normaliser, optimisers, update count) of a checkpoint."""
    state = checkpoint if isinstance(checkpoint, dict) else load_checkpoint(checkpoint, device)
    config = config_from_dict(state['config'])
    agent = make_agent(config, device)
    agent.load_state_dict(state['agent'])
    agent.load_optimizer_state(state['optimizers'])
    agent.updates = int(state['counters']['updates'])
    return agent


def policy_module(checkpoint_or_agent: str | Path | dict | OffPolicyAgent) -> nn.Module:
    """Float32 CPU export module of a single-robot agent (see ``OffPolicyAgent.policy``).

    For the MLP: raw obs [B, obs_dim] → deterministic action [B, act_dim] in [-1, 1], the
    observation normaliser (if enabled) baked in as mean/std buffers; only
    Linear/ReLU/Tanh/clamp ops, so it exports to ONNX as is.
    """
    agent = checkpoint_or_agent
    if not isinstance(agent, OffPolicyAgent):
        agent = agent_from_checkpoint(agent)
    return agent.policy()
