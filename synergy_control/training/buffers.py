"""Replay buffers that live on the training device.

Transitions are packed into one preallocated float32 tensor per buffer, so an ``add`` is a
single host-to-device copy and a ``sample`` is a single gather: on CUDA the update path never
touches host memory. Only ``terminated`` is stored: a time-limit truncation must bootstrap, so
it is not a ``done`` for the target.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


def available_memory(device: torch.device) -> int | None:
    """Bytes that an allocation on ``device`` can still take (None where unknown)."""
    if device.type == 'cuda':
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class Batch(NamedTuple):
    """A batch of transitions, each field [B, ...] float32 on the buffer's device."""

    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor


class ReplayBuffer:
    """Fixed-capacity FIFO of transitions; the oldest are overwritten once full."""

    def __init__(self, obs_dim: int, act_dim: int, capacity: int,
                 device: str | torch.device = 'cpu'):
        if capacity < 1:
            raise ValueError(f'replay buffer capacity must be >= 1, got {capacity}')
        self.obs_dim, self.act_dim, self.capacity = obs_dim, act_dim, capacity
        self.device = torch.device(device)
        # column layout of a packed row: obs | action | reward | next_obs | terminated
        edges = np.cumsum([0, obs_dim, act_dim, 1, obs_dim, 1])
        self._slices = [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
        self.storage = torch.zeros((capacity, int(edges[-1])), dtype=torch.float32,
                                   device=self.device)
        self._row = np.zeros(int(edges[-1]), dtype=np.float32)
        self.pos = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    @property
    def obs(self) -> torch.Tensor:
        """View of the stored observations (all capacity rows)."""
        return self.storage[:, self._slices[0]]

    @property
    def action(self) -> torch.Tensor:
        """View of the stored actions (all capacity rows)."""
        return self.storage[:, self._slices[1]]

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray,
            terminated: bool) -> None:
        """Store one transition (numpy / python scalars) in one host-to-device copy."""
        row, (o, a, r, n, t) = self._row, self._slices
        row[o] = np.ravel(obs)
        row[a] = np.ravel(action)
        row[r] = reward
        row[n] = np.ravel(next_obs)
        row[t] = float(terminated)
        self.storage[self.pos].copy_(torch.from_numpy(row))
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> Batch:
        """Uniform sample with replacement (indices drawn on the device, torch RNG)."""
        if self.size == 0:
            raise ValueError('cannot sample from an empty replay buffer')
        idx = torch.randint(0, self.size, (batch_size,), device=self.device)
        return self._unpack(self.storage[idx])

    def _unpack(self, rows: torch.Tensor) -> Batch:
        o, a, r, n, t = self._slices
        return Batch(rows[:, o], rows[:, a], rows[:, r].squeeze(1), rows[:, n],
                     rows[:, t].squeeze(1))

    def state_dict(self) -> dict:
        """Return the filled part of the buffer (on CPU) and its write position."""
        # A copy, not a view: torch.save writes a view's whole underlying storage (capacity).
        filled = self.storage[:self.size].to('cpu', copy=True)
        return {'obs_dim': self.obs_dim, 'act_dim': self.act_dim, 'capacity': self.capacity,
                'pos': self.pos, 'size': self.size, 'storage': filled}

    def load_state_dict(self, state: dict) -> None:
        """Restore a buffer saved by :meth:`state_dict` with the same shapes."""
        shape = (state['obs_dim'], state['act_dim'], state['capacity'])
        if shape != (self.obs_dim, self.act_dim, self.capacity):
            raise ValueError(f'replay buffer shape {shape} does not match '
                             f'{(self.obs_dim, self.act_dim, self.capacity)}')
        self.size, self.pos = int(state['size']), int(state['pos'])
        self.storage[:self.size].copy_(state['storage'])


def split_evenly(total: int, parts: int) -> list[int]:
    """Split ``total`` into ``parts`` shares differing by at most one (first larger)."""
    base, extra = divmod(total, parts)
    return [base + (i < extra) for i in range(parts)]


class MultiReplayBuffer:
    """One replay buffer per key (morphology or task), for multi-robot learners (SOLAR, EAR).

    A combined sample splits the batch evenly across keys so that every morphology gets the
    same share of each update, whatever its amount of data.
    """

    def __init__(self, dims: dict[str, tuple[int, int]], capacity: int,
                 device: str | torch.device = 'cpu'):
        """``dims`` maps each key to its (obs_dim, act_dim); ``capacity`` is per key."""
        if not dims:
            raise ValueError('MultiReplayBuffer needs at least one key')
        self.buffers = {key: ReplayBuffer(o, a, capacity, device) for key, (o, a) in dims.items()}

    def __getitem__(self, key: str) -> ReplayBuffer:
        return self.buffers[key]

    def __len__(self) -> int:
        return sum(len(b) for b in self.buffers.values())

    def keys(self) -> list[str]:
        """Return the buffer keys in insertion order."""
        return list(self.buffers)

    def add(self, key: str, obs: np.ndarray, action: np.ndarray, reward: float,
            next_obs: np.ndarray, terminated: bool) -> None:
        """Store one transition under ``key``."""
        self.buffers[key].add(obs, action, reward, next_obs, terminated)

    def sample_per_key(self, batch_size: int) -> dict[str, Batch]:
        """``batch_size`` transitions split evenly across the non-empty keys, kept apart."""
        keys = [k for k, b in self.buffers.items() if len(b)]
        if not keys:
            raise ValueError('cannot sample from an empty replay buffer')
        sizes = split_evenly(batch_size, len(keys))
        return {k: self.buffers[k].sample(n) for k, n in zip(keys, sizes) if n}

    def sample(self, batch_size: int, key: str | None = None) -> Batch:
        """Sample one key, or all keys split evenly and concatenated (equal dims)."""
        if key is not None:
            return self.buffers[key].sample(batch_size)
        parts = list(self.sample_per_key(batch_size).values())
        if len({(p.obs.shape[1], p.action.shape[1]) for p in parts}) > 1:
            raise ValueError('keys have different obs/action sizes: use sample_per_key')
        return Batch(*(torch.cat(fields) for fields in zip(*parts)))

    def state_dict(self) -> dict:
        """Return every key's buffer state."""
        return {k: b.state_dict() for k, b in self.buffers.items()}

    def load_state_dict(self, state: dict) -> None:
        """Restore every key's buffer."""
        for key, buf in self.buffers.items():
            buf.load_state_dict(state[key])
