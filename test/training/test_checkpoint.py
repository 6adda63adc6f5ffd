"""Checkpoint files and the exportable policy module."""

from pathlib import Path

import numpy as np
import pytest
import torch

from synergy_control.training import (CheckpointError, agent_from_checkpoint, load_checkpoint,
                                      make_agent, policy_module, train)
from synergy_control.training.checkpoint import save_checkpoint

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def run_dir(tmp_path_factory):
    """One finished smoke run shared by the checkpoint tests."""
    path = tmp_path_factory.mktemp('ckpt') / 'run'
    return train(str(REPO / 'config/train/smoke_td3.yaml'), run_dir=str(path), progress=False)


@pytest.mark.parametrize('damage', ['truncate', 'garbage', 'empty'])
def test_corrupt_checkpoint_raises_checkpoint_error_naming_file(run_dir, tmp_path, damage):
    data = (run_dir / 'checkpoints' / 'last.pt').read_bytes()
    bad = tmp_path / 'last.pt'
    bad.write_bytes({'truncate': data[:len(data) // 2], 'garbage': b'\x00junk' * 100,
                     'empty': b''}[damage])
    with pytest.raises(CheckpointError, match=str(bad)):
        load_checkpoint(bad)


def test_missing_and_foreign_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match='does not exist'):
        load_checkpoint(tmp_path / 'nope.pt')
    torch.save({'weights': torch.zeros(2)}, tmp_path / 'other.pt')
    with pytest.raises(CheckpointError, match='not a training checkpoint'):
        load_checkpoint(tmp_path / 'other.pt')


def test_atomic_save_leaves_no_temporary_files(tmp_path):
    for i in range(2):
        save_checkpoint({'x': torch.tensor(i)}, tmp_path / 'last.pt')
    assert [p.name for p in tmp_path.iterdir()] == ['last.pt']
    assert torch.load(tmp_path / 'last.pt')['x'] == 1


def test_save_removes_temporaries_left_by_a_killed_writer(tmp_path):
    for stale in ('.last.pt.abc123.tmp', '.last.pt.x.tmp'):
        (tmp_path / stale).write_bytes(b'partial')
    (tmp_path / '.best.pt.y.tmp').write_bytes(b'partial')  # another file's: not ours to judge
    save_checkpoint({'x': torch.tensor(1)}, tmp_path / 'last.pt')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['.best.pt.y.tmp', 'last.pt']


@pytest.mark.parametrize('algorithm', ['td3', 'sac'])
def test_policy_module_equals_deterministic_act(algorithm, smoke_config):
    torch.manual_seed(0)
    agent = make_agent(smoke_config(algorithm, normalize_obs=True))
    agent.obs_norm.update(torch.randn(500, 17, dtype=torch.float64) * 3 + 1)
    obs = np.random.default_rng(0).normal(1.0, 3.0, (8, 17))
    policy = policy_module(agent)
    assert [b.dtype for b in policy.buffers()] == [torch.float32, torch.float32]
    with torch.no_grad():
        out = policy(torch.as_tensor(obs, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(out, agent.act(obs, deterministic=True), atol=1e-6)
    assert out.shape == (8, 6) and np.all(np.abs(out) <= 1)


def test_policy_module_from_checkpoint_path(run_dir):
    path = run_dir / 'checkpoints' / 'last.pt'
    agent = agent_from_checkpoint(path)
    assert agent.updates == load_checkpoint(path)['counters']['updates']
    obs = np.random.default_rng(1).normal(size=(4, 17))
    with torch.no_grad():
        out = policy_module(path)(torch.as_tensor(obs, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(out, agent.act(obs, deterministic=True), atol=1e-6)
