"""Benchmark: a stable-baselines3 peer trained for a wall-clock budget, return against time.

Issue 19's time-to-return compares our engine with the libraries users know, at equal
wall-clock on this machine. This script trains one peer, RL Zoo's own hyperparameters read
from the installed ``rl_zoo3`` package (its ``ExperimentManager`` builds the model: schedules,
``VecNormalize``, ``policy_kwargs``), on gymnasium's environment, and writes a run directory
that ``benchmarks/time_to_return.py`` reads like one of ours:

- ``metrics.csv``: ``step, wall_time, eval_mean, eval_std, eval_length``, one row per
  deterministic evaluation (``--eval-episodes`` episodes of a fresh gymnasium environment,
  observations normalised by the training statistics, every ``--eval-every`` seconds). As in
  our trainer, the wall clock includes the evaluations;
- ``config.yaml``: algorithm, environment, seed, the hyperparameters used, the budget;
- ``final.json``: the final policy judged over ``--final-episodes`` episodes (seeds 0..N-1).

RL Zoo tunes these on the ``-v4`` environments; the ``-v5`` ones have the same dynamics, so the
``-v4`` entry is used for a ``-v5`` id (said in ``config.yaml``). ``--set KEY=VALUE`` overrides
an entry where the zoo's setting does not fit this machine (CrossQ's 2048-wide critics run at
1.3 env steps/s on one core here), recorded as ``overrides`` in ``config.yaml``. One torch thread by default
(``--threads``): pin the process to a core (``taskset -c 0``) so that peers and our runs get
the same CPU. Needs ``pip install -r benchmarks/requirements.txt``::

    taskset -c 0 python benchmarks/sb3_peer.py --algo sac --env Walker2d-v5 --minutes 30 \\
        --out benchmarks/results/peers/sb3_sac_walker2d_0
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import yaml

LIBRARY = {'sac': 'stable-baselines3', 'ppo': 'stable-baselines3', 'crossq': 'sb3-contrib'}


def zoo_hyperparameters(algo: str, env_id: str) -> tuple[dict, str]:
    """RL Zoo's entry for ``env_id`` (its ``-v4`` twin for a ``-v5`` id), and the key used."""
    import rl_zoo3
    table = yaml.safe_load((Path(rl_zoo3.__file__).parent / 'hyperparams' / f'{algo}.yml')
                           .read_text())
    for key in (env_id, env_id.replace('-v5', '-v4')):
        if key in table:
            return dict(table[key]), key
    raise SystemExit(f'rl_zoo3 has no {algo} hyperparameters for {env_id}')


def parse_overrides(items: list[str]) -> dict:
    """``KEY=VALUE`` strings as a dict, each value read as YAML; a malformed one exits."""
    overrides = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise SystemExit(f'--set {item!r}: expected KEY=VALUE')
        overrides[key] = yaml.safe_load(value)
    return overrides


def evaluate(model, env_id: str, episodes: int,
             first_seed: int) -> tuple[list[float], list[int]]:
    """Deterministic returns and lengths of ``model`` in fresh gymnasium episodes.

    Episode i is seeded ``first_seed + i``; observations are normalised by the training
    ``VecNormalize`` statistics where the peer normalises them.
    """
    norm = model.get_vec_normalize_env()
    obs_rms = None if norm is None or not norm.norm_obs else norm.obs_rms
    env = gym.make(env_id)
    returns, lengths = [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=first_seed + episode)
        total, length, done = 0.0, 0, False
        while not done:
            if obs_rms is not None:
                obs = np.clip((obs - obs_rms.mean) / np.sqrt(obs_rms.var + norm.epsilon),
                              -norm.clip_obs, norm.clip_obs)
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            total, length = total + float(reward), length + 1
            done = terminated or truncated
        returns.append(total)
        lengths.append(length)
    env.close()
    return returns, lengths


def make_callback(env_id: str, budget_s: float, every_s: float, episodes: int, log: Path):
    """A callback that evaluates every ``every_s`` seconds and stops at ``budget_s``."""
    from stable_baselines3.common.callbacks import BaseCallback

    class WallClock(BaseCallback):
        """Evaluations on a wall-clock schedule; training ends when the budget is spent."""

        def _on_training_start(self) -> None:
            self.t0 = time.perf_counter()
            self.next_eval, self.last_step = 0.0, -1
            self.file = open(log, 'w', newline='')
            self.writer = csv.writer(self.file)
            self.writer.writerow(['step', 'wall_time', 'eval_mean', 'eval_std', 'eval_length'])

        def _evaluate(self) -> None:
            returns, lengths = evaluate(self.model, env_id, episodes, first_seed=1000)
            self.writer.writerow([self.num_timesteps, f'{time.perf_counter() - self.t0:.3f}',
                                  f'{np.mean(returns):.3f}', f'{np.std(returns):.3f}',
                                  f'{np.mean(lengths):.1f}'])
            self.file.flush()
            self.last_step = self.num_timesteps

        def _on_step(self) -> bool:
            elapsed = time.perf_counter() - self.t0
            if elapsed >= self.next_eval:
                self._evaluate()
                self.next_eval += every_s
            return time.perf_counter() - self.t0 < budget_s

        def _on_training_end(self) -> None:
            if self.last_step != self.num_timesteps:
                self._evaluate()
            self.file.close()

    return WallClock()


def main() -> None:
    """Train the peer, log its evaluations, judge the final policy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--algo', choices=sorted(LIBRARY), required=True)
    parser.add_argument('--env', default='Walker2d-v5')
    parser.add_argument('--minutes', type=float, default=30.0)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--eval-every', type=float, default=120.0, help='seconds')
    parser.add_argument('--eval-episodes', type=int, default=5)
    parser.add_argument('--final-episodes', type=int, default=10)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--out', type=Path, required=True)
    parser.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                        help="override an RL Zoo hyperparameter (VALUE read as YAML), e.g. "
                             "--set 'policy_kwargs=dict(net_arch=dict(pi=[256, 256], "
                             "qf=[256, 256]))'")
    args = parser.parse_args()

    import torch
    from rl_zoo3.exp_manager import ExperimentManager
    torch.set_num_threads(args.threads)
    hyperparams, zoo_key = zoo_hyperparameters(args.algo, args.env)
    overrides = parse_overrides(args.set)
    hyperparams.update(overrides)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        table = Path(scratch) / f'{args.algo}.yml'
        table.write_text(yaml.safe_dump({args.env: hyperparams}))
        manager = ExperimentManager(
            argparse.Namespace(), args.algo, args.env, os.path.join(scratch, 'logs'),
            n_timesteps=int(1e9), eval_freq=-1, seed=args.seed, verbose=0, device='cpu',
            config=str(table))
        model, _ = manager.setup_experiment()
        model.learn(int(1e9), callback=make_callback(
            args.env, 60.0 * args.minutes, args.eval_every, args.eval_episodes,
            args.out / 'metrics.csv'))
    final, _ = evaluate(model, args.env, args.final_episodes, first_seed=0)
    command = ' '.join(['python benchmarks/sb3_peer.py', f'--algo {args.algo}',
                        f'--env {args.env}', f'--minutes {args.minutes:g}',
                        f'--seed {args.seed}', f'--out {args.out}']
                       + [f"--set '{item}'" for item in args.set])
    (args.out / 'config.yaml').write_text(yaml.safe_dump({
        'algorithm': f'{LIBRARY[args.algo]} {args.algo}', 'robot': args.env, 'seed': args.seed,
        'eval_episodes': args.eval_episodes, 'budget_minutes': args.minutes,
        'torch_threads': args.threads, 'rl_zoo_entry': zoo_key,
        'overrides': overrides, 'hyperparameters': hyperparams, 'command': command}, sort_keys=False))
    summary = {'algorithm': args.algo, 'library': LIBRARY[args.algo], 'env': args.env,
               'seed': args.seed, 'env_steps': int(model.num_timesteps),
               'final_mean': float(np.mean(final)), 'final_std': float(np.std(final)),
               'final_returns': final, 'command': command}
    (args.out / 'final.json').write_text(json.dumps(summary, indent=2) + '\n')
    print(json.dumps(summary, indent=2))


if __name__ == '__main__':
    main()
