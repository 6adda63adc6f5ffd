"""Actor/critic networks: batched twin critic, tanh-Gaussian log-prob and clamps."""

import torch
from torch import distributions as D
from torch.nn import functional as F

from synergy_control.policies.networks import (LOG_STD_MAX, GaussianActor, TwinCritic,
                                               tanh_gaussian_log_prob)


def test_twin_critic_equals_independent_mlps():
    torch.manual_seed(0)
    critic = TwinCritic(5, 2, [8, 8])
    obs, act = torch.randn(7, 5), torch.randn(7, 2)
    q = critic(obs, act)
    assert q.shape == (2, 7)
    for i in range(2):
        x = torch.cat([obs, act], -1)
        for j, layer in enumerate(critic.layers):
            x = x @ layer.weight[i] + layer.bias[i]
            x = F.relu(x) if j < len(critic.layers) - 1 else x
        torch.testing.assert_close(q[i], x.squeeze(-1))
    assert not torch.allclose(q[0], q[1])  # heads are initialised independently
    assert torch.equal(critic(obs, act, first_only=True), q[:1])  # TD3's actor loss: bit-identical


def test_tanh_gaussian_log_prob_matches_torch_distributions():
    torch.manual_seed(0)
    mean, log_std = torch.randn(6, 3), torch.randn(6, 3).clamp(-1, 1)
    pre_tanh = mean + log_std.exp() * torch.randn(6, 3)
    dist = D.TransformedDistribution(D.Normal(mean, log_std.exp()), [D.TanhTransform()])
    expected = dist.log_prob(torch.tanh(pre_tanh)).sum(-1)
    torch.testing.assert_close(tanh_gaussian_log_prob(mean, log_std, pre_tanh), expected,
                               rtol=1e-4, atol=1e-4)


def test_log_std_is_clamped_and_actions_bounded():
    actor = GaussianActor(4, 2, [16, 16])
    torch.nn.init.constant_(actor.log_std.bias, 100.0)
    obs = torch.randn(32, 4)
    _, log_std = actor(obs)
    assert torch.all(log_std <= LOG_STD_MAX)
    action, log_prob = actor.sample(obs)
    assert torch.all(action.abs() <= 1) and log_prob.shape == (32,)
    assert torch.all(actor.deterministic(obs).abs() <= 1)
