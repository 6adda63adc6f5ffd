"""Benchmark: wall time and env steps until a run's evaluation first reaches a return.

Reads the ``metrics.csv`` a training run writes (deterministic evaluations every
``eval_every`` steps; a peer's from ``benchmarks/sb3_peer.py`` or ``rsl_rl_peer.py``, every N
seconds) and its ``config.yaml``. One run writes benchmarks/results/time_to_return_<run>.json::

    python benchmarks/time_to_return.py models/training/walker_td3_0 --threshold 3000

Several runs with ``--name`` are compared (issue 19): for each threshold, each run's first
crossing, and the ratio of the best peer's wall time to our best one's (the speed-up per
CPU-second when every run had one core). It writes ``<name>.csv`` (a row per run and
threshold), ``<name>.json`` and ``<name>.png`` (evaluation return against wall time)::

    python benchmarks/time_to_return.py models/training/walker_ppo_0 \\
        benchmarks/results/peers/sb3_sac_walker2d_0 --threshold 1000 2000 3000 4000 \\
        --name time_to_return_walker2d
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import yaml

from result_files import write_results

RESULTS = Path(__file__).parent / 'results'
#: A run whose config names one of these is a peer, not this project's engine.
PEER_LIBRARIES = ('stable-baselines3', 'sb3-contrib', 'rsl-rl')


def evaluations(run_dir: Path) -> list[tuple[int, float, float]]:
    """(env step, wall time, evaluation mean) of each evaluation a run logged."""
    with open(run_dir / 'metrics.csv', newline='') as f:
        return [(int(r['step']), float(r['wall_time']), float(r['eval_mean']))
                for r in csv.DictReader(f) if r.get('eval_mean')]


def first_crossing(run_dir: Path, threshold: float) -> dict:
    """Return step, wall time and value of the first evaluation at or above ``threshold``."""
    evals = evaluations(run_dir)
    config = yaml.safe_load((run_dir / 'config.yaml').read_text())
    result = {'run': run_dir.name, 'threshold': threshold, 'algorithm': config['algorithm'],
              'robot': config['robot'], 'seed': config['seed'],
              'eval_episodes': config['eval_episodes'], 'evaluations': len(evals),
              'best_eval_mean': max((value for *_, value in evals), default=None)}
    for step, wall, value in evals:
        if value >= threshold:
            return {**result, 'reached': True, 'env_steps': step, 'wall_time_s': wall,
                    'eval_mean': value}
    step, wall = evals[-1][:2] if evals else (0, 0.0)
    return {**result, 'reached': False, 'env_steps_so_far': step, 'wall_time_so_far_s': wall}


def is_peer(result: dict) -> bool:
    """Whether a crossing belongs to a peer library's run."""
    return any(library in str(result['algorithm']) for library in PEER_LIBRARIES)


def speedups(crossings: list[dict], thresholds: list[float]) -> list[dict]:
    """Per threshold: our fastest and the peers' fastest wall time, and their ratio."""
    rows = []
    for threshold in thresholds:
        reached = [c for c in crossings if c['threshold'] == threshold and c['reached']]
        ours = min((c for c in reached if not is_peer(c)), key=lambda c: c['wall_time_s'],
                   default=None)
        peer = min((c for c in reached if is_peer(c)), key=lambda c: c['wall_time_s'],
                   default=None)
        rows.append({'threshold': threshold,
                     'ours': ours and ours['run'], 'ours_s': ours and ours['wall_time_s'],
                     'peer': peer and peer['run'], 'peer_s': peer and peer['wall_time_s'],
                     'peer_over_ours': (peer['wall_time_s'] / ours['wall_time_s']
                                        if ours and peer else None)})
    return rows


def plot(runs: list[Path], out: Path) -> None:
    """Evaluation return against wall time, one line per run."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(7, 4))
    for run in runs:
        points = evaluations(run)
        axes.plot([w / 60 for _, w, _ in points], [v for *_, v in points], label=run.name)
    axes.set_xlabel('wall time (min, one core)')
    axes.set_ylabel('deterministic evaluation return')
    axes.legend(fontsize=7)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(out, dpi=110)


def main() -> None:
    """Compute the crossings and write the result files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('run_dirs', type=Path, nargs='+')
    parser.add_argument('--threshold', type=float, nargs='+', default=[3000.0])
    parser.add_argument('--name', help='compare the runs under this result name')
    args = parser.parse_args()
    command = ' '.join(['python benchmarks/time_to_return.py', *map(str, args.run_dirs),
                        '--threshold', *(f'{t:g}' for t in args.threshold),
                        *(['--name', args.name] if args.name else [])])
    crossings = [first_crossing(run, t) for run in args.run_dirs for t in args.threshold]
    if args.name is None:
        if len(args.run_dirs) > 1:
            parser.error('several runs need --name')
        for result in crossings:
            result['command'] = command
        summary = crossings[0] if len(crossings) == 1 else crossings
        out = RESULTS / f'time_to_return_{args.run_dirs[0].name}.json'
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=2) + '\n')
        print(json.dumps(summary, indent=2))
        return
    summary = {'command': command, 'speedups': speedups(crossings, args.threshold),
               'crossings': crossings}
    columns = ['run', 'algorithm', 'threshold', 'reached', 'env_steps', 'wall_time_s',
               'best_eval_mean']
    write_results(RESULTS / args.name, [{c: r.get(c) for c in columns} for r in crossings],
                  summary, columns)
    plot(args.run_dirs, (RESULTS / args.name).with_suffix('.png'))
    print(json.dumps(summary['speedups'], indent=2))


if __name__ == '__main__':
    main()
