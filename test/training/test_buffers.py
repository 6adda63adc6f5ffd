"""Replay buffers: preallocation, dtype, wraparound, state round trip, per-key splitting."""

import io

import numpy as np
import pytest
import torch

from synergy_control.training.buffers import MultiReplayBuffer, ReplayBuffer, split_evenly


def fill(buf: ReplayBuffer, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        buf.add(np.full(buf.obs_dim, i, np.float64), np.full(buf.act_dim, -i, np.float32),
                float(i), np.full(buf.obs_dim, i + 0.5), i % 2 == 1)


def test_preallocated_float32_before_any_add():
    buf = ReplayBuffer(5, 2, capacity=100)
    assert buf.storage.shape == (100, 5 + 2 + 1 + 5 + 1)
    assert buf.storage.dtype == torch.float32
    assert buf.obs.shape == (100, 5) and buf.action.shape == (100, 2)
    assert len(buf) == 0


def test_sample_fields_shapes_dtypes_and_values():
    buf = ReplayBuffer(3, 2, capacity=10)
    fill(buf, 4)
    batch = buf.sample(64)
    assert batch.obs.shape == batch.next_obs.shape == (64, 3)
    assert batch.action.shape == (64, 2)
    assert batch.reward.shape == batch.terminated.shape == (64,)
    assert all(t.dtype == torch.float32 for t in batch[:5])
    assert batch.robot is None and batch.act_mask is None  # one robot: nothing padded
    i = batch.reward
    assert torch.equal(batch.obs[:, 0], i) and torch.equal(batch.action[:, 1], -i)
    assert torch.equal(batch.next_obs[:, 2], i + 0.5)
    assert torch.equal(batch.terminated, (i % 2 == 1).float())
    assert set(i.tolist()) <= {0.0, 1.0, 2.0, 3.0}


def test_wraparound_overwrites_oldest():
    buf = ReplayBuffer(1, 1, capacity=3)
    fill(buf, 5)
    assert len(buf) == 3 and buf.pos == 2
    assert buf.obs[:, 0].tolist() == [3.0, 4.0, 2.0]
    assert set(buf.sample(200).reward.tolist()) == {2.0, 3.0, 4.0}


def test_state_dict_round_trip():
    buf = ReplayBuffer(2, 1, capacity=8)
    fill(buf, 5)
    other = ReplayBuffer(2, 1, capacity=8)
    other.load_state_dict(buf.state_dict())
    assert (other.pos, other.size) == (5, 5)
    assert torch.equal(other.storage, buf.storage)
    with pytest.raises(ValueError, match='does not match'):
        ReplayBuffer(2, 1, capacity=9).load_state_dict(buf.state_dict())


def test_saved_state_holds_only_the_filled_rows():
    buf = ReplayBuffer(17, 6, capacity=100_000)
    fill(buf, 10)
    saved = io.BytesIO()
    torch.save(buf.state_dict(), saved)
    row_bytes = buf.storage.shape[1] * 4
    assert len(saved.getvalue()) < 10 * row_bytes + 10_000  # not 100 000 rows (16.8 MB)


def test_empty_sample_refused():
    with pytest.raises(ValueError, match='empty'):
        ReplayBuffer(2, 1, 4).sample(1)


def test_split_evenly():
    assert split_evenly(10, 3) == [4, 3, 3]
    assert split_evenly(2, 3) == [1, 1, 0]


def test_multi_buffer_splits_batch_evenly_across_keys():
    multi = MultiReplayBuffer({'a': (2, 1), 'b': (2, 1), 'c': (2, 1), 'empty': (2, 1)}, 50)
    for key, value in [('a', 1.0), ('b', 2.0), ('c', 3.0)]:
        for _ in range(5 if key == 'a' else 40):  # shares do not follow data amounts
            multi.add(key, np.zeros(2), np.zeros(1), value, np.zeros(2), False)
    batch = multi.sample(10)
    assert batch.reward.tolist() == [1.0] * 4 + [2.0] * 3 + [3.0] * 3
    assert batch.robot.tolist() == [0] * 4 + [1] * 3 + [2] * 3 and batch.obs.shape == (10, 2)
    assert batch.act_mask is None  # equal action sizes: nothing to mask
    one = multi.sample(6, key='b')
    assert torch.all(one.reward == 2.0) and one.robot.tolist() == [1] * 6


def test_multi_buffer_pads_smaller_robots_and_masks_their_actions():
    multi = MultiReplayBuffer({'walker': (17, 6), 'hopper': (11, 3)}, 10)
    multi.add('walker', np.full(17, 1.0), np.full(6, 0.5), 0.0, np.full(17, 2.0), False)
    multi.add('hopper', np.full(11, 3.0), np.full(3, -0.5), 1.0, np.full(11, 4.0), True)
    batch = multi.sample(4)
    assert batch.obs.shape == batch.next_obs.shape == (4, 17) and batch.action.shape == (4, 6)
    hopper = batch.robot == 1
    assert hopper.tolist() == [False, False, True, True]
    assert torch.all(batch.obs[hopper, :11] == 3.0) and torch.all(batch.obs[hopper, 11:] == 0)
    assert torch.all(batch.next_obs[hopper, 11:] == 0)
    assert torch.all(batch.action[hopper, 3:] == 0) and torch.all(batch.action[hopper, :3] == -0.5)
    assert batch.act_mask.tolist() == [[1.0] * 6] * 2 + [[1.0] * 3 + [0.0] * 3] * 2
    restored = MultiReplayBuffer({'walker': (17, 6), 'hopper': (11, 3)}, 10)
    restored.load_state_dict(multi.state_dict())
    assert len(restored) == 2 and torch.equal(restored.storage, multi.storage)
