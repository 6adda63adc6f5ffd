"""PPO: GAE, truncation bootstrapping, the clipped surrogate and the learning-rate schedule
against hand-computed values; a run's export carries its normaliser inside the graph."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

from synergy_control.training import make_agent, train
from synergy_control.training.checkpoint import agent_from_checkpoint
from synergy_control.export.trained import export_checkpoint
from synergy_control.training.ppo import (adapted_learning_rate, bootstrap_truncated, gae,
                                          gaussian_kl, gaussian_log_prob, ppo_losses)


def test_gae_matches_hand_computed_values():
    reward = torch.tensor([[1.0], [2.0], [3.0]])
    value = torch.tensor([[0.5], [1.0], [1.5]])
    last = torch.tensor([2.0])
    advantage, returns = gae(reward, value, torch.zeros(3, 1), last, gamma=0.9, lam=0.8)
    # δ2 = 3 + .9·2 − 1.5 = 3.3; δ1 = 2 + .9·1.5 − 1 = 2.35; δ0 = 1 + .9·1 − .5 = 1.4
    # A2 = 3.3; A1 = 2.35 + .72·3.3 = 4.726; A0 = 1.4 + .72·4.726 = 4.80272
    torch.testing.assert_close(advantage[:, 0], torch.tensor([4.80272, 4.726, 3.3]))
    torch.testing.assert_close(returns[:, 0], torch.tensor([5.30272, 5.726, 4.8]))


def test_gae_cuts_at_an_episode_end():
    reward = torch.tensor([[1.0], [2.0], [3.0]])
    value = torch.tensor([[0.5], [1.0], [1.5]])
    done = torch.tensor([[0.0], [1.0], [0.0]])
    advantage, _ = gae(reward, value, done, torch.tensor([2.0]), gamma=0.9, lam=0.8)
    # step 1 ends its episode: δ1 = 2 − 1 = 1 with nothing after it; A0 = 1.4 + .72·1
    torch.testing.assert_close(advantage[:, 0], torch.tensor([2.12, 1.0, 3.3]))


def test_truncation_bootstraps_and_termination_does_not():
    reward = torch.tensor([1.0, 1.0])
    truncated = torch.tensor([1.0, 0.0])  # env 0 hit its time limit, env 1 fell
    final_value = torch.tensor([10.0, 10.0])
    bootstrapped = bootstrap_truncated(reward, truncated, final_value, gamma=0.9)
    torch.testing.assert_close(bootstrapped, torch.tensor([10.0, 1.0]))
    # both episodes ended: the advantage is the (bootstrapped) reward minus V
    advantage, _ = gae(bootstrapped[None], torch.tensor([[4.0, 4.0]]), torch.ones(1, 2),
                       torch.tensor([100.0, 100.0]), gamma=0.9, lam=0.95)
    torch.testing.assert_close(advantage[0], torch.tensor([6.0, -3.0]))


def test_clipped_surrogate_value_loss_and_clip_fraction():
    old = torch.zeros(3)
    new = torch.log(torch.tensor([1.5, 0.5, 1.1]))  # ratios 1.5, 0.5, 1.1
    advantage = torch.tensor([1.0, -1.0, 2.0])
    policy_loss, value_loss, clipped = ppo_losses(new, old, advantage, torch.tensor([1.0, 2.0]),
                                                  torch.tensor([0.0, 0.0]), clip=0.2)
    # min(1.5·1, 1.2·1) = 1.2; min(0.5·−1, 0.8·−1) = −0.8; min(1.1·2, 1.1·2) = 2.2
    torch.testing.assert_close(policy_loss, -torch.tensor((1.2 - 0.8 + 2.2) / 3))
    torch.testing.assert_close(value_loss, torch.tensor(2.5))
    torch.testing.assert_close(clipped, torch.tensor(2 / 3))


def test_gaussian_log_prob_and_kl_match_torch_distributions():
    mean, log_std = torch.tensor([[0.2, -0.4]]), torch.tensor([0.1, -0.3])
    action = torch.tensor([[0.5, 0.0]])
    normal = torch.distributions.Normal(mean, log_std.exp())
    torch.testing.assert_close(gaussian_log_prob(action, mean, log_std),
                               normal.log_prob(action).sum(-1))
    other = torch.distributions.Normal(mean + 0.3, (log_std - 0.2).exp())
    torch.testing.assert_close(gaussian_kl(mean, log_std, mean + 0.3, log_std - 0.2),
                               torch.distributions.kl_divergence(normal, other).sum(-1))
    mask = torch.tensor([[1.0, 0.0]])  # a padded column adds nothing
    torch.testing.assert_close(gaussian_log_prob(action, mean, log_std, mask),
                               normal.log_prob(action)[:, 0])


@pytest.mark.parametrize('kl, expected', [(0.05, 2e-4), (0.001, 4.5e-4), (0.01, 3e-4)])
def test_learning_rate_follows_the_kl(kl, expected):
    assert adapted_learning_rate(3e-4, kl, desired_kl=0.01) == pytest.approx(expected)


def test_learning_rate_stays_within_bounds():
    assert adapted_learning_rate(1e-5, 1.0, 0.01) == 1e-5
    assert adapted_learning_rate(1e-2, 1e-6, 0.01) == 1e-2


def test_update_moves_the_actor_the_value_and_the_log_std(smoke_config, snapshot):
    from synergy_control.training.ppo import Rollout
    torch.manual_seed(0)
    agent = make_agent(smoke_config('ppo'))
    n = 64
    obs = torch.randn(n, agent.obs_dim)
    action, log_prob, mean = agent.sample(obs)
    rollout = Rollout(obs, None, action, log_prob, mean, agent.log_std.detach().clone(),
                      torch.randn(n), torch.randn(n))
    before = [snapshot(m) for m in (agent.actor, agent.value)]
    log_std = agent.log_std.detach().clone()
    metrics = agent.update(rollout)
    assert all(s.changed() for s in before)
    assert not torch.equal(log_std, agent.log_std)
    assert agent.updates == 2 * 2  # epochs x minibatches of smoke_ppo.yaml
    assert all(torch.isfinite(v) for v in metrics.values())


def test_a_run_exports_its_normaliser_inside_the_graph(tmp_path, smoke_config):
    """The ONNX graph maps raw observations to the trained actor's actions on normalised ones.

    No step outside the graph: ORT on raw observations equals the agent acting on them.
    """
    run = train(config=smoke_config('ppo'), run_dir=str(tmp_path / 'run'), progress=False)
    agent = agent_from_checkpoint(run / 'checkpoints' / 'last.pt')
    assert agent.obs_norm is not None and agent.obs_norm.count > 0
    export_checkpoint(run, tmp_path / 'policy.onnx')
    session = ort.InferenceSession(str(tmp_path / 'policy.onnx'),
                                   providers=['CPUExecutionProvider'])
    raw = np.random.default_rng(0).normal(0.0, 3.0, (5, agent.obs_dim)).astype(np.float32)
    onnx_action = session.run(None, {'obs': raw})[0]
    np.testing.assert_allclose(onnx_action, agent.act(raw, deterministic=True), atol=1e-5)
    unnormalised = agent.actor.deterministic(torch.as_tensor(raw)).detach().numpy()
    assert np.abs(onnx_action - unnormalised).max() > 1e-3  # the normaliser is in the graph


def test_ppo_logs_one_row_of_episode_means_per_rollout(tmp_path, smoke_config):
    """Walkers that fall within a few steps end many episodes a rollout: one row, their means."""
    import csv
    config = smoke_config('ppo', total_steps=1024, eval_every=100_000)
    run = train(config=config, run_dir=str(tmp_path / 'run'), progress=False)
    rows = [r for r in csv.DictReader(open(run / 'metrics.csv')) if r['episode']]
    rollout = config.num_envs * config.ppo.rollout_steps
    assert [int(r['step']) for r in rows] == list(range(rollout, 1024 + 1, rollout))
    counts = [int(r['episode']) for r in rows]
    assert counts[-1] > len(rows) and counts == sorted(counts)  # a running count of episodes
    assert all(1 <= float(r['episode_length']) <= config.ppo.rollout_steps * 4 for r in rows)


def test_ppo_trains_solar_over_a_padded_set_and_resumes(tmp_path, smoke_config):
    """Walker++ subset, SOLAR's synergy actor as the mean: padded columns never move."""
    config = smoke_config('ppo', robot=None, robots=['walker_2_main', 'walker_7_main'],
                          obs_mode='modular', num_envs=4, total_steps=256,
                          policy={'name': 'solar', 'variant': 'solar_no_preference',
                                  'd_model': 16, 'heads': 2, 'feedforward': 32,
                                  'intra_layers': 1, 'inter_layers': 1})
    run = train(config=config, run_dir=str(tmp_path / 'run'), progress=False)
    agent = agent_from_checkpoint(run / 'checkpoints' / 'last.pt')
    narrow = agent.context.act_dims[0]
    robot = torch.zeros(8, dtype=torch.long)
    action = agent.sample(torch.randn(8, agent.obs_dim), robot)[0]
    assert narrow < agent.act_dim and torch.all(action[:, narrow:] == 0)
    import csv
    with open(run / 'metrics.csv', newline='') as f:
        columns = csv.DictReader(f).fieldnames
    assert 'eval_mean/walker_2_main' in columns and 'episode_return/walker_7_main' in columns
    train(resume=str(run), total_steps=512, progress=False)
    state = torch.load(run / 'checkpoints' / 'last.pt', weights_only=True)
    assert state['counters']['env_steps'] == 512
    assert state['counters']['robot_steps'] == {'walker_2_main': 256, 'walker_7_main': 256}


def test_ppo_refuses_the_replay_based_reclustering_hook(smoke_config):
    from synergy_control.training.config import ConfigError
    with pytest.raises(ConfigError, match="config key 'hooks'"):
        smoke_config('ppo', hooks=[{'name': 'solar_recluster', 'every': 1000}])
