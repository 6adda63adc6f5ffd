"""CrossQ: batch renormalisation, one joint critic batch, no target network, delayed actor."""

import pytest
import torch

from synergy_control.policies.networks import BatchRenorm
from synergy_control.training import make_agent, train
from synergy_control.export.trained import export_checkpoint


def test_batch_renorm_is_batch_norm_in_warmup_and_running_stats_in_eval():
    torch.manual_seed(0)
    norm = BatchRenorm(2, 3, momentum=0.5, warmup_steps=10)
    x = torch.randn(2, 64, 3) * 4 + 1
    expected = (x - x.mean(1, keepdim=True)) / (x.var(1, unbiased=False, keepdim=True)
                                                + norm.eps).sqrt()
    torch.testing.assert_close(norm(x), expected)
    torch.testing.assert_close(norm.running_mean, 0.5 * x.mean(1, keepdim=True))
    norm.eval()
    running = (x - norm.running_mean) / (norm.running_var + norm.eps).sqrt()
    torch.testing.assert_close(norm(x), running)


def test_batch_renorm_after_warmup_corrects_toward_the_running_statistics():
    norm = BatchRenorm(1, 2, warmup_steps=0, r_max=1.5, d_max=0.5)
    x = torch.tensor([[[0.0, 10.0], [2.0, 30.0]]])  # mean (1, 20), std (1, 10)
    out = norm(x)  # running mean 0, var 1: r = std clipped to 1.5, d = mean clipped to 0.5
    batch = (x - x.mean(1, keepdim=True)) / (x.var(1, unbiased=False, keepdim=True)
                                             + norm.eps).sqrt()
    r = torch.tensor([1.0, 1.5])  # column 0: batch std = running std; column 1: 10 -> 1.5
    torch.testing.assert_close(out, batch * r + torch.tensor([0.5, 0.5]))


def test_the_critics_see_current_and_next_pairs_as_one_batch(smoke_config, random_batch):
    torch.manual_seed(0)
    agent = make_agent(smoke_config('crossq',
                                    crossq={'critic_hidden_sizes': [16, 16]}))
    assert not hasattr(agent, 'critic_target') or agent.critic_target is None
    assert not any('critic_target' in k for k in agent.state_dict())
    rows = []
    handle = agent.critic.register_forward_hook(lambda m, i, o: rows.append(o.shape[1]))
    batch = random_batch(32, agent.obs_dim, agent.act_dim)
    agent.update(batch)
    handle.remove()
    assert rows[0] == 64  # (s, a) and (s', a') together: one set of batch statistics


def test_the_actor_waits_policy_delay_critic_updates(smoke_config, random_batch, snapshot):
    torch.manual_seed(0)
    agent = make_agent(smoke_config('crossq',
                                    crossq={'critic_hidden_sizes': [16, 16], 'policy_delay': 3}))
    batch = random_batch(32, agent.obs_dim, agent.act_dim)
    agent.update(batch)  # the first update also steps the actor, to have its metrics
    moved = []
    for _ in range(3):
        actor, critic = snapshot(agent.actor), snapshot(agent.critic)
        agent.update(batch)
        moved.append((actor.changed(), critic.changed()))
    assert moved == [(False, True), (True, True), (False, True)]  # updates 2, 3, 4


@pytest.mark.parametrize('builder', ['mlp'])
def test_a_crossq_run_trains_and_exports(tmp_path, smoke_config, builder):
    config = smoke_config('crossq', crossq={'critic_hidden_sizes': [32, 32]})
    run = train(config=config, run_dir=str(tmp_path / 'run'), progress=False)
    card = export_checkpoint(run, tmp_path / 'policy.onnx')
    assert card.method == 'crossq' and card.training['export_parity_max_abs_diff'] < 1e-4
