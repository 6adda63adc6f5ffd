"""Running observation normaliser."""

import numpy as np
import torch

from synergy_control.training.normalizer import RunningNormalizer


def test_parallel_updates_match_full_statistics():
    data = np.random.default_rng(0).normal(3.0, 2.0, (301, 4))
    norm = RunningNormalizer(4)
    norm.update(torch.as_tensor(data[0]))  # single samples and batches mix
    for chunk in np.array_split(data[1:], 7):
        norm.update(torch.as_tensor(chunk))
    assert norm.count.item() == 301
    np.testing.assert_allclose(norm.mean.numpy(), data.mean(0), rtol=1e-10)
    np.testing.assert_allclose(norm.var.numpy(), data.var(0), rtol=1e-10)


def test_standardise_clip_and_frozen_copy_agree():
    norm = RunningNormalizer(2, clip=10.0)
    norm.update(torch.tensor([[0.0, 1.0], [2.0, 1.0]]))  # second dim has zero variance
    x = torch.tensor([[1.0, 1.0], [3.0, 2.0]])
    out = norm(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.0], [2.0, 10.0]]))
    frozen = norm.frozen()
    assert frozen.mean.dtype == frozen.std.dtype == torch.float32
    torch.testing.assert_close(frozen(x), out)
    assert set(dict(norm.named_buffers())) == {'count', 'mean', 'var'}
