"""Training throughput of synergy_control.training vs stable-baselines3 (TD3 and SAC).

Same setting for both: Walker2d-v5 dynamics (walker_7_main here, gymnasium Walker2d-v5 for
SB3), 256x256 MLPs, batch 256, one gradient update per env step after ``--learning-starts``
random steps, same torch thread count, one process. Reported per implementation:
  * loop env steps/s: the full training loop (env step + acting + replay + one update),
  * update-only updates/s: gradient steps on a filled buffer without the environment,
  * raw env steps/s of each environment with random actions (to separate simulator cost).

Needs ``pip install stable-baselines3==2.9.2`` (benchmark only). Writes
``benchmarks/results/training_throughput.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import csv
import os
import json
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import gymnasium
import numpy as np
import torch

from synergy_control.envs import make_env
from synergy_control.training.config import config_from_dict
from synergy_control.training.runner import StopRequest, Trainer

RESULTS = Path(__file__).parent / 'results'


def env_rate(env: gymnasium.Env, steps: int) -> float:
    """Measure random-action env steps per second (resets included)."""
    env.reset(seed=0)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def ours(algorithm: str, steps: int, learning_starts: int, update_steps: int) -> dict:
    """Measure our loop rate from metrics.csv wall times of the first/last train rows."""
    config = config_from_dict({
        'robot': 'walker_7_main', 'algorithm': algorithm, 'total_steps': learning_starts + steps,
        'start_steps': learning_starts, 'buffer_size': learning_starts + steps,
        'eval_every': 10**9, 'eval_episodes': 1, 'checkpoint_every': 10**9,
        'log_every': learning_starts, 'hidden_sizes': [256, 256], 'batch_size': 256},
        name=f'bench_{algorithm}')
    assert steps % learning_starts == 0, 'log rows must fall on the first and last step'
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config, Path(tmp), 'cpu', progress=False)
        try:
            trainer.run(StopRequest())
            with open(Path(tmp) / 'metrics.csv', newline='') as f:
                logs = [r for r in csv.DictReader(f) if r['updates']]
            first, last = logs[0], logs[-1]
            seconds = float(last['wall_time']) - float(first['wall_time'])
            loop = (int(last['step']) - int(first['step'])) / seconds
            updates = (int(last['updates']) - int(first['updates'])) / seconds
            agent, buffer = trainer.agent, trainer.buffer
            start = time.perf_counter()
            for _ in range(update_steps):
                agent.update(buffer.sample(config.batch_size))
            update_only = update_steps / (time.perf_counter() - start)
        finally:
            trainer.close()
    return {'loop_env_steps_per_s': loop, 'loop_updates_per_s': updates,
            'update_only_per_s': update_only}


def sb3(algorithm: str, steps: int, learning_starts: int, update_steps: int) -> dict:
    """Measure the same on stable-baselines3 with matching hyperparameters."""
    from stable_baselines3 import SAC, TD3
    from stable_baselines3.common.noise import NormalActionNoise

    env = gymnasium.make('Walker2d-v5')
    kwargs = dict(policy_kwargs={'net_arch': [256, 256]}, batch_size=256,
                  learning_starts=learning_starts, train_freq=1, gradient_steps=1,
                  buffer_size=learning_starts + steps, device='cpu', seed=0, verbose=0)
    if algorithm == 'td3':
        noise = NormalActionNoise(np.zeros(6), 0.1 * np.ones(6))
        model = TD3('MlpPolicy', env, action_noise=noise, **kwargs)
    else:
        model = SAC('MlpPolicy', env, **kwargs)
    model.learn(total_timesteps=learning_starts)
    updates_before = model._n_updates
    start = time.perf_counter()
    model.learn(total_timesteps=steps, reset_num_timesteps=False)
    seconds = time.perf_counter() - start
    loop, updates = steps / seconds, (model._n_updates - updates_before) / seconds
    start = time.perf_counter()
    model.train(gradient_steps=update_steps, batch_size=256)
    update_only = update_steps / (time.perf_counter() - start)
    return {'loop_env_steps_per_s': loop, 'loop_updates_per_s': updates,
            'update_only_per_s': update_only}


def markdown(result: dict) -> str:
    """Write the human summary with the reproducing command."""
    lines = ['# Training throughput: synergy_control vs stable-baselines3', '',
             f"Command: `{result['command']}`", '',
             f"torch {result['torch']}, {result['threads']} thread(s), {result['machine']}; "
             f"{result['steps']} learning steps after {result['learning_starts']} random steps, "
             'batch 256, 256x256, one update per env step.', '',
             '| algorithm | implementation | loop env steps/s | loop updates/s | '
             'update-only updates/s |', '|---|---|---|---|---|']
    for row in result['runs']:
        lines.append(f"| {row['algorithm']} | {row['implementation']} | "
                     f"{row['loop_env_steps_per_s']:.0f} | {row['loop_updates_per_s']:.0f} | "
                     f"{row['update_only_per_s']:.0f} |")
    rates = result['raw_env_steps_per_s']
    lines += ['', 'Raw env steps/s (random actions): '
              + ', '.join(f'{k} {v:.0f}' for k, v in rates.items()), '']
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--steps', type=int, default=2000, help='learning steps per run')
    parser.add_argument('--learning-starts', type=int, default=1000)
    parser.add_argument('--update-steps', type=int, default=300)
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    parser.add_argument('--algorithms', nargs='+', default=['td3', 'sac'])
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    runs = []
    for algorithm in args.algorithms:
        for name, measure in (('synergy_control', ours), ('stable-baselines3', sb3)):
            torch.manual_seed(0)
            rates = measure(algorithm, args.steps, args.learning_starts, args.update_steps)
            runs.append({'algorithm': algorithm, 'implementation': name, **rates})
            print(json.dumps(runs[-1]), flush=True)
    result = {
        'command': shlex.join([Path(sys.executable).name, 'benchmarks/training_throughput.py',
                               *(argv if argv is not None else sys.argv[1:])]),
        'torch': torch.__version__, 'threads': torch.get_num_threads(),
        'machine': f'{platform.processor() or platform.machine()}, '
                   f'{os.cpu_count()} cores',
        'steps': args.steps, 'learning_starts': args.learning_starts,
        'raw_env_steps_per_s': {'walker_7_main': env_rate(make_env('walker_7_main'), 3000),
                                'Walker2d-v5': env_rate(gymnasium.make('Walker2d-v5'), 3000)},
        'runs': runs}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / 'training_throughput.json').write_text(json.dumps(result, indent=2) + '\n')
    (RESULTS / 'training_throughput.md').write_text(markdown(result))
    print(markdown(result))
    return result


if __name__ == '__main__':
    main()
