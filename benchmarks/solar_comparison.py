"""SOLAR's Walker++ comparison: final returns per arm on training and zero-shot walkers, 95 % CI.

Reads the seeds' run directories (grouped by their config name, as ``synergy-control plot``
does), takes each seed's **mean of its last ``--last`` evaluations** (the deterministic
evaluations the trainer logs, per walker), and writes per arm and per walker the mean across
seeds with its Student-t 95 % confidence half-width, plus each arm's return against the number
of actuated joints (the seed's claim that SOLAR's gap grows with joint count):

    .venv/bin/python benchmarks/solar_comparison.py models/training/walker_solar_cpu_? \\
        models/training/walker_amorpheus_cpu_? --out docs/results/solar_walker_comparison

writes ``<out>.json``, ``<out>.csv`` and ``<out>.png`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import yaml

from synergy_control.robots import get_robot
from synergy_control.training.plot import eval_curve, group_runs, mean_ci


def spread(values: np.ndarray) -> dict:
    """Mean across seeds, the 95 % half-width (None for one seed: no interval) and the seeds."""
    mean, half = mean_ci(values[:, None])
    return {'mean': float(mean[0]), 'ci95': float(half[0]) if len(values) > 1 else None,
            'per_seed': values.round(1).tolist()}


def interval(stat: dict) -> str:
    """``mean ± half-width``, or the mean alone with ``(1 seed)``."""
    if stat['ci95'] is None:
        return f"{stat['mean']:.1f} (1 seed)"
    return f"{stat['mean']:.1f} ± {stat['ci95']:.1f}"


def seed_value(run: Path, column: str, last: int) -> float:
    """Mean of a run's last ``last`` evaluations of ``column``."""
    _, values = eval_curve(run, column)
    if not len(values):
        raise ValueError(f'{run} has no evaluation of {column}')
    return float(values[-last:].mean())


def run_robots(run: Path) -> tuple[list[str], list[str]]:
    """The training and zero-shot walkers of a run, from the per-walker columns it logged."""
    with open(run / 'metrics.csv', newline='') as f:
        columns = csv.DictReader(f).fieldnames or []
    trained = [c.split('/', 1)[1] for c in columns if c.startswith('episode_return/')]
    evaluated = [c.split('/', 1)[1] for c in columns if c.startswith('eval_mean/')]
    return trained, [r for r in evaluated if r not in trained]


def summarise(run_dirs: list[Path], last: int) -> dict:
    """Per arm (config name): seeds, steps, train/zero-shot and per-walker mean with 95 % CI."""
    arms = {}
    for name, runs in sorted(group_runs(run_dirs).items()):
        trained, zero_shot = run_robots(runs[0])
        steps = [int(eval_curve(r)[0][-1]) for r in runs]
        row = {'seeds': [yaml.safe_load((r / 'config.yaml').read_text())['seed'] for r in runs],
               'runs': [r.name for r in runs], 'final_steps': steps,
               'train_robots': trained, 'zero_shot_robots': zero_shot}
        for key, column in (('train', 'eval_mean'), ('zero_shot', 'eval_zero_shot_mean')):
            row[key] = spread(np.array([seed_value(r, column, last) for r in runs]))
        row['robots'] = {}
        for robot in trained + zero_shot:
            values = np.array([seed_value(r, f'eval_mean/{robot}', last) for r in runs])
            row['robots'][robot] = {'joints': get_robot(robot).model.nu,
                                    'zero_shot': robot in zero_shot, **spread(values)}
        arms[name] = row
    return arms


def markdown(arms: dict) -> str:
    """The comparison as a Markdown table: one row per arm, then one column per walker."""
    robots = sorted(next(iter(arms.values()))['robots'],
                    key=lambda r: next(iter(arms.values()))['robots'][r]['joints'])
    head = ['arm', 'seeds', 'train', 'zero-shot'] + [
        f"{r}{'*' if next(iter(arms.values()))['robots'][r]['zero_shot'] else ''}"
        for r in robots]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for name, row in arms.items():
        cells = [name, str(len(row['seeds'])), interval(row['train']),
                 interval(row['zero_shot'])] + [interval(row['robots'][r]) for r in robots]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def plot_by_joints(arms: dict, out_png: Path) -> None:
    """Each arm's return on every walker against its joint count, with the 95 % CI bars."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for offset, (name, row) in zip(np.linspace(-0.15, 0.15, len(arms)), arms.items()):
        robots = sorted(row['robots'].values(), key=lambda r: r['joints'])
        ax.errorbar([r['joints'] + offset for r in robots], [r['mean'] for r in robots],
                    yerr=[r['ci95'] or 0.0 for r in robots], marker='o', capsize=3,
                    label=f"{name} (n={len(row['seeds'])})")
    ax.set(xlabel='actuated joints (walker_N: N - 1)', ylabel='return (deterministic policy)',
           title='Walker++: return per walker (zero-shot: walker_3, walker_6)')
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    """Summarise the runs, write JSON, CSV and the picture, print the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('runs', nargs='+', type=Path)
    parser.add_argument('--last', type=int, default=3,
                        help='evaluations averaged per seed (default: the last 3)')
    parser.add_argument('--out', type=Path, default=Path('docs/results/solar_walker_comparison'))
    args = parser.parse_args(argv)
    arms = summarise(args.runs, args.last)
    result = {'command': 'python benchmarks/solar_comparison.py '
                         + ' '.join(sys.argv[1:] if argv is None else argv),
              'statistic': f'per seed the mean of its last {args.last} evaluations; '
                           'mean across seeds and Student-t 95 % half-width',
              'arms': arms}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix('.json').write_text(json.dumps(result, indent=2) + '\n')
    with open(args.out.with_suffix('.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['arm', 'robot', 'joints', 'zero_shot', 'seeds', 'mean', 'ci95',
                         'per_seed'])
        for name, row in arms.items():
            for robot, r in row['robots'].items():
                writer.writerow([name, robot, r['joints'], r['zero_shot'], len(row['seeds']),
                                 f"{r['mean']:.2f}",
                                 '' if r['ci95'] is None else f"{r['ci95']:.2f}",
                                 ' '.join(map(str, r['per_seed']))])
    plot_by_joints(arms, args.out.with_suffix('.png'))
    print(markdown(arms))


if __name__ == '__main__':
    main()
