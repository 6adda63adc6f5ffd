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
1.3 env steps/s on one core here), recorded as ``overrides`` in ``config.yaml``. One torch
thread by default (``--threads``): pin the process to a core (``taskset -c 0``) so that peers
and our runs get the same CPU. Needs ``pip install -r benchmarks/requirements.txt``::

    taskset -c 0 python benchmarks/sb3_peer.py --algo sac --env Walker2d-v5 --minutes 30 \\
        --out benchmarks/results/peers/sb3_sac_walker2d_0
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import yaml

from peer_runs import Act, EvaluationSchedule, evaluate, peer_arguments, write_run

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


def deterministic_policy(model) -> Act:
    """The model's deterministic action for a raw observation.

    Observations are normalised by the training ``VecNormalize`` statistics where the peer
    normalises them.
    """
    norm = model.get_vec_normalize_env()
    obs_rms = None if norm is None or not norm.norm_obs else norm.obs_rms

    def act(obs: np.ndarray) -> np.ndarray:
        if obs_rms is not None:
            obs = np.clip((obs - obs_rms.mean) / np.sqrt(obs_rms.var + norm.epsilon),
                          -norm.clip_obs, norm.clip_obs)
        return model.predict(obs, deterministic=True)[0]

    return act


def make_callback(env_id: str, budget_s: float, every_s: float, episodes: int, log: Path):
    """A callback that evaluates every ``every_s`` seconds and stops at ``budget_s``."""
    from stable_baselines3.common.callbacks import BaseCallback

    class WallClock(BaseCallback):
        """Evaluations on a wall-clock schedule; training ends when the budget is spent."""

        def _on_training_start(self) -> None:
            self.schedule = EvaluationSchedule(log, env_id, every_s, episodes)

        def _on_step(self) -> bool:
            if self.schedule.due():
                self.schedule.evaluate(self.num_timesteps, deterministic_policy(self.model))
            return self.schedule.elapsed() < budget_s

        def _on_training_end(self) -> None:
            self.schedule.finish(self.num_timesteps, deterministic_policy(self.model))

    return WallClock()


def main() -> None:
    """Train the peer, log its evaluations, judge the final policy."""
    parser = peer_arguments(__doc__.splitlines()[0])
    parser.add_argument('--algo', choices=sorted(LIBRARY), required=True)
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
    final, _ = evaluate(deterministic_policy(model), args.env, args.final_episodes,
                        first_seed=0)
    command = ' '.join(['python benchmarks/sb3_peer.py', f'--algo {args.algo}',
                        f'--env {args.env}', f'--minutes {args.minutes:g}',
                        f'--seed {args.seed}', f'--out {args.out}']
                       + [f"--set '{item}'" for item in args.set])
    config = {
        'algorithm': f'{LIBRARY[args.algo]} {args.algo}', 'robot': args.env, 'seed': args.seed,
        'eval_episodes': args.eval_episodes, 'budget_minutes': args.minutes,
        'torch_threads': args.threads, 'rl_zoo_entry': zoo_key,
        'overrides': overrides, 'hyperparameters': hyperparams, 'command': command}
    summary = {'algorithm': args.algo, 'library': LIBRARY[args.algo], 'env': args.env,
               'seed': args.seed, 'env_steps': int(model.num_timesteps),
               'final_mean': float(np.mean(final)), 'final_std': float(np.std(final)),
               'final_returns': final, 'command': command}
    write_run(args.out, config, summary)


if __name__ == '__main__':
    main()
