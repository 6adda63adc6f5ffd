"""The cluster timeline of a SOLAR run beside its return curve (the SOLAR paper's Fig. 5/6).

Reads a run directory's ``synergy_history.json`` (written by the ``solar_recluster`` hook) and
``metrics.csv``. Top: the evaluation return (training robots' mean, zero-shot robots' mean and
each robot thin); below it the number of synergies of each robot; then one strip per robot
(training robots first, zero-shot ones marked), its actuated limbs as rows and training steps
as columns, each cell coloured by the limb's synergy label in force, exemplars dotted.

A structure holds from the re-clustering that set it until the next. Before the first one the
run used its initial structures, from the limb graph alone (``Reclusterer``'s own), which the
history does not list; they are rebuilt here with the run's seed. Labels are numbered by first
appearance in actuator order (``SynergyStructure``), so a colour is stable while the grouping of
the first limbs is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import yaml

from synergy_control.methods.solar.clustering import Reclusterer
from synergy_control.methods.solar.hooks import HISTORY_FILE
from synergy_control.robots import get_robot
from synergy_control.training.plot import eval_curve

matplotlib.use('Agg')
from matplotlib import pyplot as plt  # noqa: E402  (backend first)
from matplotlib.colors import BoundaryNorm, ListedColormap  # noqa: E402


@dataclass
class RobotTimeline:
    """The structures in force for one robot: from ``steps[i]`` on, ``labels[i]`` (limb order)."""

    robot: str
    limbs: list[str]
    zero_shot: bool
    steps: np.ndarray  # [R + 1], 0 first (the initial structure)
    labels: np.ndarray  # [R + 1, K]
    centres: list[tuple[int, ...]]
    failed: np.ndarray  # steps of attempts that kept the previous structure

    @property
    def counts(self) -> np.ndarray:
        """Return the number of synergies in force from each step on."""
        return np.array([len(c) for c in self.centres])


def read_timelines(run_dir: str | Path) -> list[RobotTimeline]:
    """Return each robot's timeline from a run's history, training robots first.

    ValueError names the file when the run has no history (not a re-clustered SOLAR run) or
    the history misses a key.
    """
    run_dir = Path(run_dir)
    path = run_dir / HISTORY_FILE
    if not path.is_file():
        raise ValueError(f'{path} not found: only SOLAR runs with the solar_recluster hook '
                         'write a cluster history')
    try:
        state = json.loads(path.read_text())
        names, history, zero_shot = list(state['structures']), state['history'], state['zero_shot']
        seed = yaml.safe_load((run_dir / 'config.yaml').read_text())['seed']
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f'{path}: not a cluster history ({error!r})') from error
    robots = [get_robot(name) for name in names]
    initial = Reclusterer(robots, seed=seed).structures
    timelines = []
    for robot in sorted(robots, key=lambda r: r.name in zero_shot):
        records = [r for r in history if r['robot'] == robot.name]
        start = initial[robot.name]
        timelines.append(RobotTimeline(
            robot.name, [limb.name for limb in robot.limbs[1:]], robot.name in zero_shot,
            np.array([0] + [r['step'] for r in records]),
            np.array([start.labels] + [r['labels'] for r in records]),
            [start.centres] + [tuple(r['centres']) for r in records],
            np.array([r['step'] for r in records if not r['converged']])))
    return timelines


def _last_step(run_dir: Path, timelines: list[RobotTimeline]) -> int:
    """Return the last step the run logged (where the strips end)."""
    steps, _ = eval_curve(run_dir, 'step')
    last = max(int(t.steps[-1]) for t in timelines)
    return max(last, int(steps.max())) if len(steps) else last


def plot_timeline(run_dir: str | Path, out_png: str | Path) -> Path:
    """Draw the return curve, synergy counts and one cluster strip per robot into a PNG."""
    run_dir = Path(run_dir)
    timelines = read_timelines(run_dir)
    end = _last_step(run_dir, timelines)
    heights = [3, 2] + [max(1.0, 0.35 * len(t.limbs)) for t in timelines]
    fig, axes = plt.subplots(len(heights), 1, sharex=True, figsize=(10, 0.6 * sum(heights) + 1.5),
                             gridspec_kw={'height_ratios': heights}, layout='constrained')
    _draw_returns(axes[0], run_dir, timelines)
    for i, t in enumerate(timelines):
        axes[1].step(np.append(t.steps, end), np.append(t.counts, t.counts[-1]), where='post',
                     color=f'C{i}', linestyle='--' if t.zero_shot else '-', label=_name(t))
    axes[1].set_ylabel('synergies')
    axes[1].legend(fontsize=6, ncol=2, loc='upper left')
    axes[1].grid(alpha=0.3)
    count = max(int(t.labels.max()) for t in timelines) + 1
    colours = ListedColormap(plt.get_cmap('tab10' if count <= 10 else 'tab20').colors[:count])
    norm = BoundaryNorm(np.arange(count + 1) - 0.5, count)
    for ax, t in zip(axes[2:], timelines):
        ax.pcolormesh(np.append(t.steps, end), np.arange(len(t.limbs) + 1) - 0.5, t.labels.T,
                      cmap=colours, norm=norm)
        for step, centres in zip(t.steps, t.centres):
            ax.plot([step] * len(centres), centres, 'k.', markersize=3)
        if len(t.failed):
            ax.plot(t.failed, np.full(len(t.failed), -0.5), 'rv', markersize=4, clip_on=False)
        ax.set_yticks(range(len(t.limbs)), t.limbs, fontsize=6)
        ax.invert_yaxis()
        ax.set_title(_name(t), fontsize=8, loc='left')
    axes[-1].set_xlabel('environment steps')
    fig.suptitle(f'{run_dir.name}: synergy of each limb (colour = label, dot = exemplar, '
                 'red = attempt kept the previous structure)', fontsize=9)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
    return out_png


def _name(timeline: RobotTimeline) -> str:
    return f'{timeline.robot} (zero-shot)' if timeline.zero_shot else timeline.robot


def _draw_returns(ax: plt.Axes, run_dir: Path, timelines: list[RobotTimeline]) -> None:
    """Draw the means of training and zero-shot robots, and each robot's return thin.

    A robot's thin line has its colour in the synergy-count panel.
    """
    means = [('eval_mean', 'training robots', 'k')]
    if any(t.zero_shot for t in timelines):
        means.append(('eval_zero_shot_mean', 'zero-shot robots', 'grey'))
    for column, label, colour in means:
        steps, values = eval_curve(run_dir, column)
        ax.plot(steps, values, 'o-', color=colour, linewidth=2, markersize=3, label=label)
    for i, t in enumerate(timelines if len(timelines) > 1 else ()):  # one robot: its mean
        steps, values = eval_curve(run_dir, f'eval_mean/{t.robot}')
        ax.plot(steps, values, '--' if t.zero_shot else '-', color=f'C{i}', linewidth=0.8)
    ax.set_ylabel('return')
    ax.legend(fontsize=7, loc='upper left')
    ax.grid(alpha=0.3)
