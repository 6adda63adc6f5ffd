"""The 'sar' policy builder: settings, the fixed decoder, bounded actions, SAC's entropy target,
and PPO sampling synergy values."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

from synergy_control.methods.sar.basis import SynergyBasis
from synergy_control.methods.sar.policy import SynergyActor
from synergy_control.export.trained import export_checkpoint
from synergy_control.training import train
from synergy_control.training.checkpoint import agent_from_checkpoint, make_agent
from synergy_control.training.config import ConfigError, config_from_dict

from .conftest import sar_config


def agent_of(data: dict):
    return make_agent(config_from_dict(data))


@pytest.mark.parametrize('phi, sampled', [(1.0, 4), (0.66, 4 + 17)])
def test_actor_samples_synergies_and_sac_targets_their_entropy(humanoid_basis, phi, sampled):
    agent = agent_of(sar_config(humanoid_basis, phi=phi))
    assert agent.actor.sampled == sampled
    assert agent.target_entropy == -sampled  # SAC's −dim of the space it samples in
    names = {n for n, _ in agent.actor.named_parameters()}
    assert not names & {'basis', 'offset', 'phi'}  # fixed: no optimiser sees the decoder
    assert {'actor.basis', 'actor.offset', 'actor.phi'} <= set(agent.state_dict())
    obs = torch.randn(64, agent.obs_dim)
    action, log_prob = agent.actor.sample(obs)
    assert action.shape == (64, 17) and log_prob.shape == (64,)
    assert torch.isfinite(log_prob).all()


def test_action_stays_in_range_whatever_the_basis_decodes_to(tmp_path):
    # a basis whose decoded actions reach ±8: the blend is clipped to the actuator range
    basis = SynergyBasis(np.full((2, 3), 4.0), np.zeros(3), {})
    for phi in (1.0, 0.5):
        actor = SynergyActor(5, basis, phi, [16, 16])
        with torch.no_grad():
            actor.mean.bias.fill_(3.0)  # tanh(mean) ≈ 1 for every sampled value
            for action in (actor.sample(torch.randn(32, 5))[0],
                           actor.deterministic(torch.randn(32, 5))):
                assert action.abs().max() <= 1.0
                assert action.max() == 1.0  # saturated, not rescaled


def test_blend_is_phi_decoded_synergies_plus_direct_values():
    basis = SynergyBasis(np.array([[0.2, -0.1, 0.3]]), np.array([0.1, 0.0, -0.2]), {})
    actor = SynergyActor(5, basis, 0.25, [8])
    u = torch.tensor([[0.5, 0.1, -0.4, 0.9]])
    expected = 0.25 * basis.decode([[0.5]]) + 0.75 * np.array([[0.1, -0.4, 0.9]])
    np.testing.assert_allclose(actor.blend(u).numpy(), expected, atol=1e-6)


def test_settings_and_basis_are_checked(humanoid_basis, tmp_path):
    with pytest.raises(ConfigError, match=r"policy\.basis"):
        config_from_dict(sar_config(''))
    with pytest.raises(ConfigError, match=r"policy\.phi"):
        config_from_dict(sar_config(humanoid_basis, phi=1.5))
    with pytest.raises(ValueError, match='does not exist'):
        agent_of(sar_config(tmp_path / 'missing.yaml'))
    walker = SynergyBasis(np.ones((2, 6)), np.zeros(6), {})
    walker.save(tmp_path / 'walker.yaml')
    with pytest.raises(ValueError, match=r'walker\.yaml decodes to 6 actuators, robot humanoid '
                       'has 17'):
        agent_of(sar_config(tmp_path / 'walker.yaml'))
    with pytest.raises(ConfigError, match="'algorithm'.*Gaussian actor"):
        agent_of({**sar_config(humanoid_basis), 'algorithm': 'td3'})
    with pytest.raises(ValueError, match='drives one robot'):
        agent_of({**sar_config(humanoid_basis), 'robot': None,
                  'robots': ['walker_7_main', 'walker_6_main']})


def sar_ppo_config(basis, phi: float) -> dict:
    """The smoke SAR-RL config under PPO: 4 humanoids, two rollouts of 16 steps."""
    data = {key: value for key, value in sar_config(basis, phi=phi).items()
            if key not in ('start_steps', 'batch_size', 'buffer_size', 'keep_buffer')}
    data.update(algorithm='ppo', num_envs=4, total_steps=128, eval_every=128,
                checkpoint_every=128, log_every=64,
                ppo={'rollout_steps': 16, 'epochs': 1, 'minibatches': 2,
                     'value_hidden_sizes': [16]})
    return data


@pytest.mark.parametrize('phi, sampled', [(1.0, 4), (0.66, 4 + 17)])
def test_ppo_samples_synergy_values_and_exports_their_blended_mean(humanoid_basis, tmp_path,
                                                                   phi, sampled):
    """PPO's Gaussian lives in [z, d]; the robot gets the blend; the graph blends the mean."""
    run = train(config=config_from_dict(sar_ppo_config(humanoid_basis, phi)),
                run_dir=str(tmp_path / 'run'), progress=False)
    agent = agent_from_checkpoint(run / 'checkpoints' / 'last.pt')
    assert agent.log_std.shape == (sampled,)
    obs = torch.randn(8, agent.obs_dim)
    u, log_prob, mean = agent.sample(obs)
    assert u.shape == mean.shape == (8, sampled) and torch.isfinite(log_prob).all()
    torch.testing.assert_close(agent.to_action(mean), agent.actor.deterministic(obs))
    torch.testing.assert_close(agent.to_action(u), agent.actor.blend(u))
    action = agent.explore(obs)
    assert action.shape == (8, 17) and action.abs().max() <= 1.0

    export_checkpoint(run, tmp_path / 'sar.onnx')
    session = ort.InferenceSession(str(tmp_path / 'sar.onnx'),
                                   providers=['CPUExecutionProvider'])
    raw = np.random.default_rng(0).normal(0.0, 2.0, (5, agent.obs_dim)).astype(np.float32)
    onnx_action, onnx_synergy = session.run(['action', 'synergy'], {'obs': raw})
    np.testing.assert_allclose(onnx_action, agent.act(raw, deterministic=True), atol=1e-5)
    normalised = agent.normalize(torch.as_tensor(raw))
    np.testing.assert_allclose(onnx_synergy, agent.mean(normalised, None)[:, :4].detach(),
                               atol=1e-5)


def test_the_actors_activation_is_a_setting(humanoid_basis):
    for activation, layer in (('relu', torch.nn.ReLU), ('elu', torch.nn.ELU)):
        config = config_from_dict(sar_config(humanoid_basis, activation=activation))
        actor = make_agent(config).actor
        assert isinstance(actor.activation, layer)
        assert all(isinstance(m, (torch.nn.Linear, layer)) for m in actor.trunk)
