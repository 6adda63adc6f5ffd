"""SAC soft target, entropy term and temperature update on hand-made tensors."""

import torch

from synergy_control.training import make_agent
from synergy_control.training.sac import sac_actor_loss, sac_alpha_loss, sac_target


def test_soft_target_subtracts_entropy_term_and_masks_termination():
    reward = torch.tensor([1.0, 1.0])
    next_q = torch.tensor([[2.0, 2.0], [3.0, 3.0]])
    next_log_prob = torch.tensor([-1.0, -1.0])
    out = sac_target(reward, torch.tensor([0.0, 1.0]), next_q, next_log_prob, alpha=0.5,
                     gamma=0.9)
    # min Q = 2, −α log π = +0.5 → 1 + 0.9 · 2.5 ; terminated → reward only
    torch.testing.assert_close(out, torch.tensor([3.25, 1.0]))


def test_actor_loss_uses_min_q_and_alpha():
    q = torch.tensor([[1.0, 2.0], [3.0, 0.0]])
    out = sac_actor_loss(q, torch.tensor([0.5, -1.0]), alpha=2.0)
    torch.testing.assert_close(out, torch.tensor(((1.0 - 1.0) + (-2.0 - 0.0)) / 2))


def test_alpha_loss_value_and_direction():
    log_alpha = torch.tensor(0.3, requires_grad=True)
    log_prob = torch.tensor([-1.0, -3.0], requires_grad=True)  # entropy 2 > target −3
    loss = sac_alpha_loss(log_alpha, log_prob, target_entropy=-3.0)
    torch.testing.assert_close(loss, torch.tensor(-0.3 * (-2.0 - 3.0)))
    loss.backward()
    assert log_alpha.grad > 0  # descent lowers α: entropy is above target
    assert log_prob.grad is None  # the policy gets no gradient from the temperature loss

    log_alpha = torch.tensor(0.0, requires_grad=True)
    sac_alpha_loss(log_alpha, torch.tensor([4.0]), target_entropy=-3.0).backward()
    assert log_alpha.grad < 0  # entropy −4 below target −3: α rises


def test_update_moves_everything_and_tunes_alpha(smoke_config, snapshot, random_batch):
    torch.manual_seed(0)
    agent = make_agent(smoke_config('sac', normalize_obs=False))
    assert agent.target_entropy == -6.0
    before = [snapshot(m) for m in (agent.actor, agent.critic, agent.critic_target)]
    log_alpha = agent.log_alpha.item()
    metrics = agent.update(random_batch(32, 17, 6))
    assert all(s.changed() for s in before)
    assert agent.log_alpha.item() != log_alpha
    assert set(metrics) == set(agent.metric_names)
    assert all(torch.isfinite(v) for v in metrics.values())


def test_fixed_alpha_when_not_autotuned(smoke_config, random_batch):
    config = smoke_config('sac', sac={'autotune': False, 'init_alpha': 0.2})
    agent = make_agent(config)
    agent.update(random_batch(32, 17, 6))
    assert 'alpha' not in agent.optimizers
    torch.testing.assert_close(agent.log_alpha.exp().detach(), torch.tensor(0.2))
