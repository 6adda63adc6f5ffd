"""Learning curves from run directories.

Evaluation return vs env steps, one curve per config name: mean and 95 % confidence interval
(Student t) across seeds.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import yaml
from scipy import stats

matplotlib.use('Agg')
from matplotlib import pyplot as plt  # noqa: E402  (backend first)


def eval_curve(run_dir: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the steps and mean evaluation returns logged in a run's metrics.csv."""
    with open(Path(run_dir) / 'metrics.csv', newline='') as f:
        rows = [r for r in csv.DictReader(f) if r['eval_mean']]
    return (np.array([int(r['step']) for r in rows]),
            np.array([float(r['eval_mean']) for r in rows]))


def mean_ci(curves: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Return the mean over seeds (axis 0) and its t confidence half-width (0 for one)."""
    n = curves.shape[0]
    if n < 2:
        return curves.mean(0), np.zeros(curves.shape[1])
    sem = curves.std(0, ddof=1) / np.sqrt(n)
    return curves.mean(0), stats.t.ppf(0.5 + level / 2, n - 1) * sem


def group_runs(run_dirs: Sequence[str | Path]) -> dict[str, list[Path]]:
    """Group run directories by the ``name`` in their config.yaml (seeds of one config)."""
    groups: dict[str, list[Path]] = defaultdict(list)
    for run in map(Path, run_dirs):
        groups[yaml.safe_load((run / 'config.yaml').read_text())['name']].append(run)
    return dict(groups)


def plot_runs(run_dirs: Sequence[str | Path], out_png: str | Path,
              title: str = 'Evaluation return') -> Path:
    """Plot one curve per config name; seeds are compared on the steps all evaluated."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, runs in sorted(group_runs(run_dirs).items()):
        curves = [eval_curve(r) for r in runs]
        steps = sorted(set.intersection(*(set(s.tolist()) for s, _ in curves)))
        if not steps:
            continue
        values = np.stack([r[np.searchsorted(s, steps)] for s, r in curves])
        mean, half = mean_ci(values)
        line, = ax.plot(steps, mean, label=f'{name} (n={len(runs)})')
        ax.fill_between(steps, mean - half, mean + half, color=line.get_color(), alpha=0.2)
    ax.set(xlabel='environment steps', ylabel='return (deterministic policy)', title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
    return out_png


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m synergy_control.training.plot RUN_DIR... -o curves.png``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('runs', nargs='+', help='run directories (seeds grouped by name)')
    parser.add_argument('-o', '--out', default='learning_curves.png')
    args = parser.parse_args(argv)
    print(plot_runs(args.runs, args.out))


if __name__ == '__main__':
    main()
