"""The MLP policy: shipped checkpoints still load unchanged, and the padded set baseline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from synergy_control.policies import PolicyContext, get_policy
from synergy_control.training import agent_from_checkpoint, config_from_dict, make_agent

REPO = Path(__file__).resolve().parents[2]
RECORDED = json.loads((Path(__file__).parent / 'data' /
                       'shipped_checkpoint_actions.json').read_text())


@pytest.mark.parametrize('run', ['walker_td3_0', 'hopper_td3_1'])
def test_shipped_checkpoints_act_exactly_as_before_the_registry(run):
    # their config has the top-level hidden_sizes of configs written before policy:
    path = REPO / 'models' / 'training' / run / 'checkpoints' / 'last.pt'
    agent = agent_from_checkpoint(path)
    obs = np.array(RECORDED[run]['obs'])
    expected = np.array(RECORDED[run]['act'], dtype=np.float32)
    # Recorded on an AMD EPYC; another CPU's matmul kernels round float32 differently
    # (up to ~2e-6 on an Intel Xeon), far below what a wrong weight mapping would change.
    np.testing.assert_allclose(agent.act(obs, deterministic=True), expected, rtol=0, atol=1e-5)
    with torch.no_grad():
        exported = agent.policy()(torch.as_tensor(obs, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(exported, expected, rtol=0, atol=1e-5)
    assert agent.export_spec() == {
        'inputs': [{'name': 'obs', 'shape': ['batch', obs.shape[1]], 'source': 'observation'}],
        'outputs': [{'name': 'action', 'shape': ['batch', expected.shape[1]],
                     'role': 'action'}],
        'synergy': None, 'tasks': None}


@pytest.fixture
def walker_set_agent():
    """A TD3 MLP over walker_2 and walker_4 (train) and walker_3 (zero-shot), normalised."""
    config = config_from_dict({'robots': ['walker_2_main', 'walker_4_main', 'walker_3_main'],
                               'policy': {'hidden_sizes': [16]}, 'normalize_obs': True})
    torch.manual_seed(0)
    agent = make_agent(config)
    agent.obs_norm.update(torch.randn(100, agent.obs_dim, dtype=torch.float64))
    return agent


def test_context_pads_to_the_largest_robot_train_first(walker_set_agent):
    ctx = walker_set_agent.context
    assert ctx.names == ['walker_2_main', 'walker_4_main', 'walker_3_main'] and ctx.num_train == 2
    assert (ctx.obs_dim, ctx.act_dim) == (max(ctx.obs_dims), max(ctx.act_dims))
    assert ctx.act_dims == [1, 3, 2]
    assert ctx.act_mask.tolist() == [[1, 0, 0], [1, 1, 1], [1, 1, 0]]


@pytest.mark.parametrize('robot', ['walker_2_main', 'walker_3_main'])
def test_export_module_of_one_robot_of_a_set(walker_set_agent, robot):
    agent, ctx = walker_set_agent, walker_set_agent.context
    i = ctx.index(robot)
    obs = np.random.default_rng(0).normal(size=(5, ctx.obs_dims[i]))
    with torch.no_grad():
        out = agent.policy(robot)(torch.as_tensor(obs, dtype=torch.float32)).numpy()
    assert out.shape == (5, ctx.act_dims[i])
    np.testing.assert_allclose(out, agent.act(obs, deterministic=True, robot=robot), atol=1e-6)
    spec = agent.export_spec(robot)
    assert spec['inputs'][0]['shape'] == ['batch', ctx.obs_dims[i]]
    assert spec['outputs'][0]['shape'] == ['batch', ctx.act_dims[i]]
    with pytest.raises(ValueError, match='name the robot'):
        agent.policy()


@pytest.mark.parametrize('kind', ['deterministic', 'gaussian'])
def test_padded_action_columns_are_zero_and_not_in_the_log_prob(kind):
    ctx = PolicyContext.build(['walker_2_main', 'walker_4_main'])
    builder = get_policy('mlp')(ctx, get_policy('mlp').Settings(hidden_sizes=[8]))
    actor = builder.make_actor(kind)
    obs, robot = torch.randn(6, ctx.obs_dim), torch.tensor([0, 1, 0, 1, 0, 1])
    action = actor.deterministic(obs, robot)
    assert torch.all(action[robot == 0, 1:] == 0) and torch.all(action[robot == 1] != 0)
    if kind == 'gaussian':
        torch.manual_seed(3)
        sampled, log_prob = actor.sample(obs, robot)
        assert torch.all(sampled[robot == 0, 1:] == 0)
        torch.manual_seed(3)
        _, unmasked = actor.sample(obs)  # every column counted
        assert torch.all(log_prob[robot == 1] == unmasked[robot == 1])
        assert torch.all(log_prob[robot == 0] != unmasked[robot == 0])
