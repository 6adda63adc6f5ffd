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
    """A batch of transitions, each field [B, ...] float32 on the buffer's device.

    From several robots, observations and actions are zero-padded to the largest; ``robot``
    [B] (long) is each sample's robot index, ``act_mask`` [B, A] its real action columns
    (None when no robot is padded). A single robot's batch has neither.
    """

    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    robot: torch.Tensor | None = None
    act_mask: torch.Tensor | None = None


class ReplayBuffer:
    """Fixed-capacity FIFO of transitions; the oldest are overwritten once full."""

    def __init__(self, obs_dim: int, act_dim: int, capacity: int,
                 device: str | torch.device = 'cpu', storage: torch.Tensor | None = None):
        """``storage`` [capacity, row] lets a :class:`MultiReplayBuffer` own the memory."""
        if capacity < 1:
            raise ValueError(f'replay buffer capacity must be >= 1, got {capacity}')
        self.obs_dim, self.act_dim, self.capacity = obs_dim, act_dim, capacity
        self.device = torch.device(device)
        # column layout of a packed row: obs | action | reward | next_obs | terminated
        edges = np.cumsum([0, obs_dim, act_dim, 1, obs_dim, 1])
        self._slices = [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
        self.storage = storage if storage is not None else torch.zeros(
            (capacity, int(edges[-1])), dtype=torch.float32, device=self.device)
        self._row = np.zeros(int(edges[-1]), dtype=np.float32)
        self.pos = 0
        self.size = 0

    @staticmethod
    def row_bytes(obs_dim: int, act_dim: int) -> int:
        """Bytes of one stored transition."""
        return (2 * obs_dim + act_dim + 2) * 4

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
        """Store one transition (numpy / python scalars) in one host-to-device copy.

        Observations and actions shorter than the buffer's (a smaller robot of a set) fill
        the first columns; the rest stay zero.
        """
        row, (o, a, r, n, t) = self._row, self._slices
        obs, action, next_obs = np.ravel(obs), np.ravel(action), np.ravel(next_obs)
        row[o.start:o.start + obs.size] = obs
        row[a.start:a.start + action.size] = action
        row[r] = reward
        row[n.start:n.start + next_obs.size] = next_obs
        row[t] = float(terminated)
        self.storage[self.pos].copy_(torch.from_numpy(row))
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> Batch:
        """Uniform sample with replacement (indices drawn on the device, torch RNG)."""
        return self._unpack(self.storage[self.sample_index(batch_size)])

    def sample_index(self, batch_size: int) -> torch.Tensor:
        """Uniform row indices with replacement (drawn on the device, torch RNG)."""
        if self.size == 0:
            raise ValueError('cannot sample from an empty replay buffer')
        return torch.randint(0, self.size, (batch_size,), device=self.device)

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
    """One replay FIFO per key (robot or task) in one padded tensor [keys, capacity, row].

    Each key keeps its own transitions, padded to the largest observation and action. A
    balanced batch (the same share for every key with data, whatever its amount of data) is
    one index draw per key and a single gather: one padded, masked forward/backward over all
    morphologies then follows, not a Python loop.
    """

    def __init__(self, dims: dict[str, tuple[int, int]], capacity: int,
                 device: str | torch.device = 'cpu', width: tuple[int, int] = (0, 0)):
        """``dims`` maps each key to its (obs_dim, act_dim); ``capacity`` is per key.

        Rows are padded to the largest key's sizes, or to ``width`` (obs, act) when larger:
        the networks' input, which a zero-shot robot that never stores data may widen.
        """
        if not dims:
            raise ValueError('MultiReplayBuffer needs at least one key')
        self.obs_dim = max(width[0], *(o for o, _ in dims.values()))
        self.act_dim = max(width[1], *(a for _, a in dims.values()))
        self.capacity, self.device = capacity, torch.device(device)
        row = ReplayBuffer.row_bytes(self.obs_dim, self.act_dim) // 4
        self.storage = torch.zeros((len(dims), capacity, row), dtype=torch.float32,
                                   device=self.device)
        self.buffers = {key: ReplayBuffer(self.obs_dim, self.act_dim, capacity, device,
                                          storage=self.storage[i])
                        for i, key in enumerate(dims)}
        act_dims = [a for _, a in dims.values()]
        self._act_mask = None if len(set(act_dims)) == 1 else torch.as_tensor(
            np.arange(self.act_dim) < np.array(act_dims)[:, None], dtype=torch.float32,
            device=self.device)
        self._robots: dict[tuple[int, ...], torch.Tensor] = {}

    def __getitem__(self, key: str) -> ReplayBuffer:
        return self.buffers[key]

    def __len__(self) -> int:
        return sum(len(b) for b in self.buffers.values())

    def keys(self) -> list[str]:
        """Return the buffer keys in insertion order (= robot indices)."""
        return list(self.buffers)

    def add(self, key: str, obs: np.ndarray, action: np.ndarray, reward: float,
            next_obs: np.ndarray, terminated: bool) -> None:
        """Store one transition under ``key``."""
        self.buffers[key].add(obs, action, reward, next_obs, terminated)

    def _robot_column(self, counts: tuple[int, ...]) -> torch.Tensor:
        """Each sample's key index for a split of the batch (cached: splits repeat)."""
        if counts not in self._robots:
            self._robots[counts] = torch.repeat_interleave(
                torch.arange(len(counts), device=self.device),
                torch.tensor(counts, device=self.device))
        return self._robots[counts]

    def sample(self, batch_size: int, key: str | None = None) -> Batch:
        """Sample one key, or all keys with data in equal shares; padded, with robot index.

        One key alone gives a plain batch; several keys add ``robot`` (and ``act_mask`` when
        action sizes differ).
        """
        keys = self.keys()
        if key is not None:
            counts = tuple(batch_size if k == key else 0 for k in keys)
        else:
            filled = [k for k in keys if len(self.buffers[k])]
            if not filled:
                raise ValueError('cannot sample from an empty replay buffer')
            shares = dict(zip(filled, split_evenly(batch_size, len(filled))))
            counts = tuple(shares.get(k, 0) for k in keys)
        draws = [(i, k, n) for i, (k, n) in enumerate(zip(keys, counts)) if n]
        if len(draws) == 1:  # one key: a plain gather from its rows
            buffer = self.buffers[draws[0][1]]
            batch = buffer._unpack(buffer.storage[buffer.sample_index(batch_size)])
        else:
            index = torch.cat([self.buffers[k].sample_index(n) + i * self.capacity
                               for i, k, n in draws])
            batch = next(iter(self.buffers.values()))._unpack(
                self.storage.view(-1, self.storage.shape[-1])[index])
        if len(keys) == 1:
            return batch
        robot = self._robot_column(counts)
        mask = None if self._act_mask is None else self._act_mask[robot]
        return batch._replace(robot=robot, act_mask=mask)

    def state_dict(self) -> dict:
        """Return every key's filled rows."""
        return {k: b.state_dict() for k, b in self.buffers.items()}

    def load_state_dict(self, state: dict) -> None:
        """Restore every key's buffer (a single :class:`ReplayBuffer` state fills the first)."""
        if 'storage' in state:  # keep_buffer checkpoints of single-robot runs before sets
            state = {self.keys()[0]: state}
        for key, buf in self.buffers.items():
            buf.load_state_dict(state[key])
