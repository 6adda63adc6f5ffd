"""Benchmark: wall time and env steps until a run's evaluation first reaches a return.

Reads the ``metrics.csv`` a training run writes (deterministic evaluations every
``eval_every`` steps) and writes benchmarks/results/time_to_return_<run>.json.

    .venv/bin/python benchmarks/time_to_return.py runs/walker_td3_0 --threshold 3000
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import yaml

RESULTS = Path(__file__).parent / 'results'


def first_crossing(run_dir: Path, threshold: float) -> dict:
    """Return step, wall time and value of the first evaluation at or above ``threshold``."""
    with open(run_dir / 'metrics.csv', newline='') as f:
        evals = [row for row in csv.DictReader(f) if row.get('eval_mean')]
    config = yaml.safe_load((run_dir / 'config.yaml').read_text())
    result = {'run': run_dir.name, 'threshold': threshold, 'algorithm': config['algorithm'],
              'robot': config['robot'], 'seed': config['seed'],
              'eval_episodes': config['eval_episodes'], 'evaluations': len(evals),
              'best_eval_mean': max((float(r['eval_mean']) for r in evals), default=None)}
    for row in evals:
        if float(row['eval_mean']) >= threshold:
            return {**result, 'reached': True, 'env_steps': int(row['step']),
                    'wall_time_s': float(row['wall_time']), 'eval_mean': float(row['eval_mean'])}
    last = evals[-1] if evals else {'step': 0, 'wall_time': 0}
    return {**result, 'reached': False, 'env_steps_so_far': int(last['step']),
            'wall_time_so_far_s': float(last['wall_time'])}


def main() -> None:
    """Compute the crossing and write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('run_dir', type=Path)
    parser.add_argument('--threshold', type=float, default=3000.0)
    args = parser.parse_args()
    result = first_crossing(args.run_dir, args.threshold)
    result['command'] = (f'python benchmarks/time_to_return.py {args.run_dir} '
                         f'--threshold {args.threshold:g}')
    out = RESULTS / f'time_to_return_{args.run_dir.name}.json'
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + '\n')
    print(json.dumps(result, indent=2))


if __name__ == '__main__':
    main()
