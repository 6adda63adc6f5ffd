"""OffPolicyAgent's acting: one batched pass over a set's robots equals acting robot by robot."""

import numpy as np
import pytest
import torch

from synergy_control.envs import make_env
from synergy_control.policies.registry import PolicyContext
from synergy_control.training.checkpoint import make_agent
from synergy_control.training.config import config_from_dict

SOLAR = {'name': 'solar', 'd_model': 16, 'feedforward': 32}


def agent_of(algorithm: str, policy: dict, obs_mode: str):
    config = config_from_dict({'robots': 'walker++', 'obs_mode': obs_mode,
                               'algorithm': algorithm, 'batch_size': 32, 'buffer_size': 100,
                               'policy': policy})
    torch.manual_seed(0)
    agent = make_agent(config, 'cpu', PolicyContext.build(*config.robot_split(), obs_mode))
    train_names = config.robot_split()[0]
    observations = [make_env(name, obs_mode).reset(seed=seed)[0]
                    for seed, name in enumerate(train_names)]
    for obs in observations:  # a normaliser away from the identity
        agent.observe(obs)
        agent.observe(obs * 0.5 + 1.0)
    return agent, train_names, observations


@pytest.mark.parametrize('algorithm, policy, obs_mode', [('td3', SOLAR, 'modular'),
                                                         ('sac', {'name': 'mlp'}, 'flat')])
def test_batched_actions_equal_each_robots_own(algorithm, policy, obs_mode):
    agent, names, observations = agent_of(algorithm, policy, obs_mode)
    assert len({obs.shape for obs in observations}) > 1  # robots of several sizes
    order = [3, 0, 2, 1]  # any order of slots: each row keeps its own robot
    batched = agent.act_robots([observations[i] for i in order], [names[i] for i in order],
                               deterministic=True)
    for i, action in zip(order, batched):
        alone = agent.act(observations[i], deterministic=True, robot=names[i])
        assert action.shape == alone.shape == (agent.context.act_dims[i],)
        np.testing.assert_allclose(action, alone, atol=1e-6, rtol=0)
    actions = [tuple(a) for a in batched]
    assert len(set(actions)) == len(actions)  # distinct robots act differently


def test_batched_exploration_stays_in_the_box_and_sized():
    agent, names, observations = agent_of('td3', SOLAR, 'modular')
    actions = agent.act_robots(observations, names)
    deterministic = agent.act_robots(observations, names, deterministic=True)
    for i, (action, mean) in enumerate(zip(actions, deterministic)):
        assert action.shape == (agent.context.act_dims[i],)
        assert np.all(np.abs(action) <= 1.0) and not np.array_equal(action, mean)
