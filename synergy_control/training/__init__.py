"""Off-policy training core (TD3, SAC): ROS-free, runs on CPU or CUDA.

Entry points: :func:`train` (also ``python -m synergy_control.training``), :func:`load_checkpoint`
and :func:`policy_module` (the exportable deterministic policy of a checkpoint or agent).
Networks come from :mod:`synergy_control.policies` (``policy:``); periodic work from
:mod:`synergy_control.training.hooks` (``hooks:``).
"""

from synergy_control.training.agent import OffPolicyAgent
from synergy_control.training.buffers import Batch, MultiReplayBuffer, ReplayBuffer
from synergy_control.training.checkpoint import (CheckpointError, agent_from_checkpoint,
                                                 load_checkpoint, make_agent, policy_module)
from synergy_control.training.config import Config, ConfigError, config_from_dict, load_config
from synergy_control.training.hooks import Hook, register_hook
from synergy_control.training.normalizer import RunningNormalizer, Standardize
from synergy_control.training.runner import TrainingDiverged, main, train
from synergy_control.training.sac import SAC
from synergy_control.training.td3 import TD3

__all__ = ['SAC', 'TD3', 'Batch', 'CheckpointError', 'Config', 'ConfigError',
           'Hook', 'MultiReplayBuffer', 'OffPolicyAgent', 'ReplayBuffer',
           'RunningNormalizer', 'Standardize', 'TrainingDiverged', 'agent_from_checkpoint',
           'config_from_dict', 'load_checkpoint', 'load_config', 'main', 'make_agent',
           'policy_module', 'register_hook', 'train']
