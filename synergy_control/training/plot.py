"""Learning curves from run directories.

Evaluation return vs env steps, one curve per config name: mean and 95 % confidence interval
(Student t) across seeds. Any column of metrics.csv can be drawn (``eval_zero_shot_mean``,
``eval_mean/<robot>``), several side by side in panels that share the return axis; ``SPLIT`` is
a morphology set's pair: the training robots' mean and the zero-shot ones'.
"""

from __future__ import annotations

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


# The training robots' mean return and the zero-shot robots' (runs on a morphology set).
SPLIT = ('eval_mean', 'eval_zero_shot_mean')
PANEL_TITLES = {'eval_mean': 'training robots (eval_mean)',
                'eval_zero_shot_mean': 'zero-shot robots (eval_zero_shot_mean)'}


def eval_curve(run_dir: str | Path,
               column: str = 'eval_mean') -> tuple[np.ndarray, np.ndarray]:
    """Read the steps and values of an evaluation ``column`` logged in a run's metrics.csv.

    ValueError names the column and the file when the run never logged that column.
    """
    path = Path(run_dir) / 'metrics.csv'
    with open(path, newline='') as f:
        reader = csv.DictReader(f)
        if column not in (reader.fieldnames or ()):
            raise ValueError(f"{path} has no column '{column}' (a single-robot run has no "
                             'zero-shot or per-robot columns)')
        rows = [r for r in reader if r[column]]
    return (np.array([int(r['step']) for r in rows]),
            np.array([float(r[column]) for r in rows]))


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


def draw_curves(ax: plt.Axes, groups: dict[str, list[Path]], column: str = 'eval_mean') -> None:
    """Draw one mean curve and 95 % CI band per group on ``ax``, on the steps all seeds share."""
    for name, runs in sorted(groups.items()):
        curves = [eval_curve(r, column) for r in runs]
        steps = sorted(set.intersection(*(set(s.tolist()) for s, _ in curves)))
        if not steps:
            continue
        values = np.stack([r[np.searchsorted(s, steps)] for s, r in curves])
        mean, half = mean_ci(values)
        line, = ax.plot(steps, mean, label=f'{name} (n={len(runs)})')
        ax.fill_between(steps, mean - half, mean + half, color=line.get_color(), alpha=0.2)
    ax.set(xlabel='environment steps')
    ax.grid(alpha=0.3)
    ax.legend()


def plot_runs(run_dirs: Sequence[str | Path], out_png: str | Path,
              title: str = 'Evaluation return',
              columns: Sequence[str] = ('eval_mean',)) -> Path:
    """Plot one curve per config name in a panel per column, side by side on one return axis.

    Seeds are compared on the steps all evaluated. A single panel of ``eval_mean`` is the
    original picture; other panels are titled by their column.
    """
    if not columns:
        raise ValueError('plot needs at least one metrics column')
    groups = group_runs(run_dirs)
    fig, axes = plt.subplots(1, len(columns), figsize=(7 * len(columns), 4.5), sharey=True,
                             squeeze=False)
    for ax, column in zip(axes[0], columns):
        draw_curves(ax, groups, column)
        ax.set_title(PANEL_TITLES.get(column, column))
    axes[0, 0].set_ylabel('return (deterministic policy)')
    if list(columns) == ['eval_mean']:
        axes[0, 0].set_title(title)
    else:
        fig.suptitle(title)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
    return out_png
