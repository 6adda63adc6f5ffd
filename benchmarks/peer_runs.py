"""What every peer benchmark shares: its evaluations on a wall-clock schedule, its run directory.

A peer (``sb3_peer.py``, ``rsl_rl_peer.py``) trains another library's algorithm for a wall-clock
budget and writes a run directory that ``time_to_return.py`` reads like one of ours. The
library-specific part is how it trains and how its policy acts; this module holds the rest, so
that every peer's figures are measured the same way:

- :func:`evaluate`: deterministic episodes of a fresh gymnasium environment, episode i seeded
  ``first_seed + i``;
- :class:`EvaluationSchedule`: ``metrics.csv`` (``step, wall_time, eval_mean, eval_std,
  eval_length``), an evaluation every ``every_s`` seconds of a clock that includes them;
- :func:`peer_arguments`: the command-line options every peer takes;
- :func:`write_run`: ``config.yaml`` and ``final.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import yaml

#: A deterministic policy: one raw gymnasium observation in, one action out.
Act = Callable[[np.ndarray], np.ndarray]
#: The seed of the first episode of an evaluation during training; the final judgement
#: uses seeds 0..N-1, so the two never share an episode.
EVAL_FIRST_SEED = 1000


def evaluate(act: Act, env_id: str, episodes: int,
             first_seed: int) -> tuple[list[float], list[int]]:
    """Return returns and lengths of ``act`` in fresh episodes, i seeded ``first_seed + i``."""
    env = gym.make(env_id)
    returns, lengths = [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=first_seed + episode)
        total, length, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total, length = total + float(reward), length + 1
            done = terminated or truncated
        returns.append(total)
        lengths.append(length)
    env.close()
    return returns, lengths


class EvaluationSchedule:
    """``metrics.csv``: an evaluation every ``every_s`` seconds from the start, the first at 0.

    The clock starts when the schedule is made (training starts) and runs on through the
    evaluations, as our trainer's does. The trainer asks :meth:`due` between its steps, calls
    :meth:`evaluate` when it is, and :meth:`finish` at the end.
    """

    def __init__(self, path: Path, env_id: str, every_s: float, episodes: int):
        self.env_id, self.every_s, self.episodes = env_id, every_s, episodes
        self.start = time.perf_counter()
        self.next_eval, self.last_step = 0.0, -1
        self.file = open(path, 'w', newline='')
        self.writer = csv.writer(self.file)
        self.writer.writerow(['step', 'wall_time', 'eval_mean', 'eval_std', 'eval_length'])

    def elapsed(self) -> float:
        """Seconds since training started, evaluations included."""
        return time.perf_counter() - self.start

    def due(self) -> bool:
        """Whether the next evaluation's time has come."""
        return self.elapsed() >= self.next_eval

    def evaluate(self, step: int, act: Act) -> None:
        """Evaluate ``act`` after ``step`` env steps, log the row, schedule the next one."""
        self._log(step, act)
        self.next_eval += self.every_s

    def finish(self, step: int, act: Act) -> None:
        """Evaluate the last policy unless its step is already logged; close the file."""
        if self.last_step != step:
            self._log(step, act)
        self.file.close()

    def _log(self, step: int, act: Act) -> None:
        returns, lengths = evaluate(act, self.env_id, self.episodes, EVAL_FIRST_SEED)
        self.writer.writerow([step, f'{self.elapsed():.3f}', f'{np.mean(returns):.3f}',
                              f'{np.std(returns):.3f}', f'{np.mean(lengths):.1f}'])
        self.file.flush()
        self.last_step = step


def peer_arguments(description: str) -> argparse.ArgumentParser:
    """Return a parser with the options every peer takes: env, budget, schedule, threads, out."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--env', default='Walker2d-v5')
    parser.add_argument('--minutes', type=float, default=30.0)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--eval-every', type=float, default=120.0, help='seconds')
    parser.add_argument('--eval-episodes', type=int, default=5)
    parser.add_argument('--final-episodes', type=int, default=10)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--out', type=Path, required=True)
    return parser


def write_run(out: Path, config: dict, summary: dict) -> None:
    """Write ``config.yaml`` (in the given key order) and ``final.json``; print the summary."""
    (out / 'config.yaml').write_text(yaml.safe_dump(config, sort_keys=False))
    (out / 'final.json').write_text(json.dumps(summary, indent=2) + '\n')
    print(json.dumps(summary, indent=2))
