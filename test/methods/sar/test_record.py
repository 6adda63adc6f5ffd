"""Activation recording: what the robot applied, per episode, kept by return percentile."""

from pathlib import Path

import numpy as np
import pytest

from synergy_control.envs import LocomotionEnv
from synergy_control.methods.sar.basis import SynergyBasis
from synergy_control.methods.sar.record import projected_returns, record
from synergy_control.rollout import rollout

from .conftest import sar_config

WALKER = Path(__file__).resolve().parents[3] / 'models' / 'td3' / 'walker_td3.onnx'


def test_recorded_activations_are_the_applied_actions():
    recording = record(WALKER, 'walker_7_main', episodes=3, seed=5, noise=0.2, max_steps=80)
    assert recording.robot == 'walker_7_main' and len(recording.activations) == 3
    env = LocomotionEnv('walker_7_main')
    for i, actions in enumerate(recording.activations):
        assert actions.shape == (80, 6) and np.abs(actions).max() <= 1.0
        # replayed open loop from the same reset, they give the same episode
        replay = iter(actions)
        episode = rollout(env, lambda _obs: next(replay), seed=5 + i, max_steps=80)
        assert episode.episode_return == recording.returns[i]


def test_percentile_keeps_the_best_episodes():
    recording = record(WALKER, 'walker_7_main', episodes=5, noise=0.5, max_steps=40)
    order = np.argsort(recording.returns)
    assert set(recording.kept(100)) == {order[-1]}
    assert set(recording.kept(0)) == set(range(5))
    kept = recording.kept(50)
    assert set(kept) == set(order[2:])
    assert len(recording.samples(50)) == sum(len(recording.activations[i]) for i in kept)
    summary = recording.summary(50)
    assert summary['episodes_kept'] == 3 and summary['mean_return_kept'] >= summary['mean_return']
    with pytest.raises(ValueError, match='percentile'):
        recording.kept(101)


def test_records_a_training_checkpoint(humanoid_basis, run_to_end, tmp_path):
    data = {**sar_config(humanoid_basis), 'total_steps': 120, 'start_steps': 100,
            'eval_every': 1000}
    run_to_end(data, tmp_path / 'run')
    sampled = record(tmp_path / 'run', episodes=2, max_steps=15)
    assert sampled.robot == 'humanoid'
    assert all(a.shape[1] == 17 and np.abs(a).max() <= 1 for a in sampled.activations)
    mean = record(tmp_path / 'run', episodes=1, max_steps=15, stochastic=False)
    again = record(tmp_path / 'run', episodes=1, max_steps=15, stochastic=False)
    np.testing.assert_array_equal(mean.activations[0], again.activations[0])
    assert not np.array_equal(sampled.activations[0], mean.activations[0])


def test_projection_through_an_identity_basis_changes_nothing():
    identity = SynergyBasis(np.eye(6), np.zeros(6), {})
    direct, projected = projected_returns(WALKER, identity, 'walker_7_main', episodes=2)
    np.testing.assert_array_equal(direct, projected)
    one = SynergyBasis(np.ones((1, 6)) / 6, np.zeros(6), {})
    direct_again, squeezed = projected_returns(WALKER, one, 'walker_7_main', episodes=2)
    np.testing.assert_array_equal(direct, direct_again)
    assert squeezed.mean() < 0.5 * direct.mean()
