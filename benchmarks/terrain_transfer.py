"""SAR's terrain transfer, judged: how far each run's exported policy gets on its terrain.

    python benchmarks/terrain_transfer.py \\
        --arm sar models/training/walker_terrain_stairs_sar_ppo_{0,1,2} \\
        --arm end-to-end models/training/walker_terrain_stairs_ppo_{0,1,2} \\
        --out docs/results/sar_walker_stairs_ppo_transfer

Each run directory must hold its exported ONNX (``synergy-control export RUN --out
RUN/RUN.onnx``: the best checkpoint). Every policy runs ``--episodes`` episodes on the run's
own robot (the terrain variant) through the ONNX runtime. An episode *crosses* when it reaches
the time limit without a fall; the distance is the root's travel along +x. Per arm: the mean
over seeds of each seed's mean return, crossing fraction and distance, with the 95 % t
interval across seeds. Writes ``OUT.csv`` (one row per run) and ``OUT.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from result_files import write_results  # noqa: E402  (beside this script)
from synergy_control.evaluation import evaluate  # noqa: E402
from synergy_control.training.plot import mean_ci  # noqa: E402


def policy_of(run: Path) -> Path:
    """The run's exported ONNX (exactly one), else a ValueError naming the run."""
    found = sorted(run.glob('*.onnx'))
    if len(found) != 1:
        raise ValueError(f'run {run} must hold exactly one exported .onnx, found {len(found)}: '
                         f'synergy-control export {run} --out {run}/{run.name}.onnx')
    return found[0]


def judge(run: Path, episodes: int, seed: int) -> dict:
    """One run's policy on its own terrain: return, crossings and distance."""
    result = evaluate(policy_of(run), episodes=episodes, seed=seed)
    episodes_run = result['results']
    return {'run': str(run), 'robot': result['robot'], 'episodes': episodes,
            'mean_return': result['mean_return'], 'std_return': result['std_return'],
            'crossed': float(np.mean([e['truncated'] and not e['terminated']
                                      for e in episodes_run])),
            'distance': float(np.mean([e['distance'] for e in episodes_run])),
            'mean_speed': result['mean_speed']}


def main(argv: list[str] | None = None) -> None:
    """Judge every arm's runs, then summarise each arm across its seeds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--arm', nargs='+', action='append', required=True,
                        metavar=('NAME', 'RUN'), help='an arm: its name, then its runs (seeds)')
    parser.add_argument('--episodes', type=int, default=10)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', type=Path, required=True, help='output path without suffix')
    args = parser.parse_args(argv)
    rows, arms = [], {}
    for name, *names in args.arm:
        if not names:
            parser.error(f"--arm {name}: name the arm's runs after it")
        runs = [Path(run) for run in names]
        judged = [{'arm': name, **judge(run, args.episodes, args.seed)} for run in runs]
        rows += judged
        summary = {}
        for column in ('mean_return', 'crossed', 'distance'):
            mean, half = mean_ci(np.array([[row[column]] for row in judged]))
            summary[column] = {'mean': float(mean[0]), 'ci95': float(half[0]),
                               'per_seed': [row[column] for row in judged]}
        arms[name] = {'runs': [str(run) for run in runs], **summary}
        print(f"{name}: return {summary['mean_return']['mean']:.1f} ± "
              f"{summary['mean_return']['ci95']:.1f}, crossed "
              f"{summary['crossed']['mean']:.2f} ± {summary['crossed']['ci95']:.2f}, distance "
              f"{summary['distance']['mean']:.1f} ± {summary['distance']['ci95']:.1f} m "
              f'({len(runs)} seeds × {args.episodes} episodes)', flush=True)
    write_results(args.out, rows, {'command': ' '.join(sys.argv), 'episodes': args.episodes,
                                   'seed': args.seed, 'arms': arms})
    print(f'wrote {args.out}.csv, .json')


if __name__ == '__main__':
    main()
