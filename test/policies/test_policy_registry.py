"""A policy registered from outside the package trains through TD3 and SAC without edits."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from synergy_control.policies import POLICIES, PolicyBuilder, register_policy
from synergy_control.policies.networks import (DeterministicActor, DeterministicPolicy,
                                               GaussianActor)
from synergy_control.settings import POSITIVE, option
from synergy_control.training import (ConfigError, agent_from_checkpoint,
                                      config_from_dict, load_checkpoint, train)


class TinyCritic(nn.Module):
    """Twin linear Q heads over (obs, action)."""

    def __init__(self, obs_dim: int, act_dim: int):
        super().__init__()
        self.q = nn.Linear(obs_dim + act_dim, 2)

    def forward(self, obs, action, robot=None, first_only=False):
        q = self.q(torch.cat([obs, action], -1)).T
        return q[:1] if first_only else q


@pytest.fixture
def tiny_policy():
    """Register 'tiny' for one test, as a method outside synergy_control would."""
    built = []

    @register_policy('tiny')
    class TinyPolicy(PolicyBuilder):
        @dataclass
        class Settings:
            width: int = option(4, POSITIVE)

        def make_actor(self, kind):
            ctx = self.context
            cls = DeterministicActor if kind == 'deterministic' else GaussianActor
            actor = cls(ctx.obs_dim, ctx.act_dim, [self.settings.width], ctx.act_mask)
            built.append((kind, actor))
            return actor

        def make_critic(self):
            critic = TinyCritic(self.context.obs_dim, self.context.act_dim)
            built.append(('critic', critic))
            return critic

        def export_module(self, actor, normalizer, robot):
            return DeterministicPolicy(normalizer, actor)

        def export_spec(self, robot):
            return {'inputs': [{'name': 'obs', 'shape': ['batch', 17], 'source': 'observation'}],
                    'outputs': [{'name': 'action', 'shape': ['batch', 6], 'role': 'action'}],
                    'synergy': None, 'tasks': 'tiny'}

    yield built
    del POLICIES.entries['tiny']


@pytest.mark.parametrize('algorithm, kind', [('td3', 'deterministic'), ('sac', 'gaussian')])
def test_outside_policy_trains_and_exports(tiny_policy, tmp_path, algorithm, kind, smoke_config):
    config = smoke_config(algorithm, policy={'name': 'tiny', 'width': 3}, total_steps=150,
                          eval_every=150)
    run = train(config=config, run_dir=str(tmp_path / 'run'), progress=False)
    kinds = [k for k, _ in tiny_policy]
    assert kinds == [kind, 'critic']  # the agent took both networks from the builder
    state = load_checkpoint(run / 'checkpoints' / 'last.pt')
    assert state['config']['policy'] == {'name': 'tiny', 'width': 3}
    first_actor_layer = next(v for k, v in state['agent'].items() if k.startswith('actor.'))
    assert first_actor_layer.shape == (3, 17)
    assert state['agent']['critic.q.weight'].shape == (2, 17 + 6)
    agent = agent_from_checkpoint(state)
    assert agent.export_spec()['tasks'] == 'tiny'
    assert agent.policy()(torch.zeros(2, 17)).shape == (2, 6)


def test_outside_policy_settings_are_validated_naming_the_key(tiny_policy):
    with pytest.raises(ConfigError, match=r"config key 'policy.width': expected an integer > 0"):
        config_from_dict({'robot': 'walker_7_main', 'policy': {'name': 'tiny', 'width': 0}})
    with pytest.raises(ConfigError, match="config key 'policy.hidden_sizes': unknown key"):
        config_from_dict({'robot': 'walker_7_main',
                          'policy': {'name': 'tiny', 'hidden_sizes': [4]}})


def test_a_name_is_registered_once(tiny_policy):
    with pytest.raises(ValueError, match="policy 'tiny' is already registered"):
        register_policy('tiny')(PolicyBuilder)
