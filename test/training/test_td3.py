"""TD3 targets on hand-made tensors and the delayed policy update."""

import torch

from synergy_control.training import make_agent
from synergy_control.training.td3 import target_policy_smoothing, td3_target


def test_target_policy_smoothing_clips_noise_then_action():
    next_action = torch.tensor([0.9, -0.9, 0.0, 0.2])
    noise = torch.tensor([0.7, -0.2, -0.6, 0.1])
    out = target_policy_smoothing(next_action, noise, noise_clip=0.5)
    # 0.9+0.5 → clip 1; -0.9-0.2 → clip -1; noise -0.6 → -0.5; small noise passes
    torch.testing.assert_close(out, torch.tensor([1.0, -1.0, -0.5, 0.3]))


def test_td3_target_takes_min_of_twin_q():
    reward = torch.tensor([1.0, 2.0])
    next_q = torch.tensor([[3.0, 5.0], [4.0, 1.0]])
    out = td3_target(reward, torch.zeros(2), next_q, gamma=0.5)
    torch.testing.assert_close(out, torch.tensor([1.0 + 0.5 * 3.0, 2.0 + 0.5 * 1.0]))


def test_truncation_bootstraps_termination_does_not():
    reward, next_q = torch.tensor([1.0, 1.0]), torch.tensor([[10.0, 10.0], [12.0, 12.0]])
    # the same transition, once ended by the time limit (terminated=0), once by a fall
    out = td3_target(reward, torch.tensor([0.0, 1.0]), next_q, gamma=0.9)
    torch.testing.assert_close(out, torch.tensor([10.0, 1.0]))


def test_policy_and_targets_update_every_policy_delay_steps(smoke_config, snapshot, random_batch):
    torch.manual_seed(0)
    agent = make_agent(smoke_config('td3', normalize_obs=False))
    actor, actor_t, critic, critic_t = (snapshot(m) for m in (
        agent.actor, agent.actor_target, agent.critic, agent.critic_target))
    metrics = agent.update(random_batch(32, 17, 6))
    assert critic.changed() and 'actor_loss' not in metrics  # no actor update yet
    assert not (actor.changed() or actor_t.changed() or critic_t.changed())
    metrics = agent.update(random_batch(32, 17, 6))
    assert actor.changed() and actor_t.changed() and critic_t.changed()
    assert all(torch.isfinite(v) for v in metrics.values())
