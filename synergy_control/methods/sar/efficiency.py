"""SAR's sample-efficiency claim: the steps each method needs to reach end-to-end's final return.

SAR-RL's steps count from the start of its play policy: each SAR-RL evaluation is placed at
``play_steps`` + its own step, so both methods are compared at equal total environment
steps. The target is the end-to-end runs' final return: per seed, the mean of its last
``final_evals`` evaluations, averaged over seeds. A method reaches it at the first evaluation
where the seed-mean curve is at least the target; per seed, where that seed's curve is. Each
method's final return (the same statistic) comes with its seeds' Student-t 95 % half-width.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from synergy_control.training.plot import eval_curve, mean_ci


def seed_curves(runs: Sequence[str | Path]) -> tuple[np.ndarray, np.ndarray]:
    """Return the evaluation steps every run reached and the returns there [runs, steps]."""
    curves = [eval_curve(run) for run in runs]
    if not curves or any(len(steps) == 0 for steps, _ in curves):
        raise ValueError(f'every run needs evaluations in its metrics.csv: {list(map(str, runs))}')
    steps = np.array(sorted(set.intersection(*(set(s.tolist()) for s, _ in curves))))
    if len(steps) == 0:
        raise ValueError(f'the runs share no evaluation step: {list(map(str, runs))}')
    return steps, np.stack([r[np.searchsorted(s, steps)] for s, r in curves])


def first_step(steps: np.ndarray, values: np.ndarray, target: float) -> int | None:
    """First step whose value is at least ``target`` (None: never)."""
    reached = np.flatnonzero(values >= target)
    return int(steps[reached[0]]) if len(reached) else None


def compare(sar_runs: Sequence[str | Path], baseline_runs: Sequence[str | Path],
            play_steps: int, final_evals: int = 3) -> dict:
    """Return both methods' steps to end-to-end's final return and their ratio (SAR / e2e)."""
    if final_evals < 1:
        raise ValueError(f'final_evals must be >= 1, got {final_evals}')
    base_steps, base = seed_curves(baseline_runs)
    sar_steps, sar = seed_curves(sar_runs)
    sar_steps = sar_steps + play_steps
    target = float(base[:, -final_evals:].mean())
    result = {'target_return': target, 'final_evals': final_evals, 'play_steps': play_steps}
    for name, steps, values, runs in (('end_to_end', base_steps, base, baseline_runs),
                                      ('sar', sar_steps, sar, sar_runs)):
        finals = values[:, -final_evals:].mean(1)
        result[name] = {'runs': [str(r) for r in runs], 'last_step': int(steps[-1]),
                        'final_return': float(finals.mean()),
                        'final_return_ci95': (float(mean_ci(finals[:, None])[1][0])
                                              if len(finals) > 1 else None),
                        'final_return_per_seed': [float(v) for v in finals],
                        'steps_to_target': first_step(steps, values.mean(0), target),
                        'steps_to_target_per_seed': [first_step(steps, v, target)
                                                     for v in values]}
    reached = result['sar']['steps_to_target'], result['end_to_end']['steps_to_target']
    result['ratio'] = None if None in reached else reached[0] / reached[1]
    return result


def algorithm_of(runs: Sequence[str | Path]) -> str:
    """Return the algorithm the runs' ``config.yaml`` names (upper case; 'RL' if they disagree)."""
    import yaml
    names = set()
    for run in runs:
        config = Path(run) / 'config.yaml'
        settings = yaml.safe_load(config.read_text()) if config.is_file() else None
        names.add(str((settings or {}).get('algorithm', 'rl')).upper())
    return names.pop() if len(names) == 1 else 'RL'


def plot_comparison(sar_runs: Sequence[str | Path], baseline_runs: Sequence[str | Path],
                    play_steps: int, target: float, out: str | Path, title: str = '') -> None:
    """Learning curves (seed mean, 95 % CI) against total environment steps, and the target."""
    from synergy_control.methods.sar.plots import pyplot
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, runs, offset in ((f'SAR-RL (+{play_steps:,} play steps)', sar_runs, play_steps),
                                (f'end-to-end {algorithm_of(baseline_runs)}', baseline_runs, 0)):
        steps, values = seed_curves(runs)
        mean, half = mean_ci(values)
        line, = ax.plot(steps + offset, mean, label=f'{label}, n={len(runs)}')
        ax.fill_between(steps + offset, mean - half, mean + half, color=line.get_color(),
                        alpha=0.2)
    if play_steps:
        ax.axvline(play_steps, color='grey', lw=1, ls=':', label='end of play')
    ax.axhline(target, color='k', lw=1, ls='--', label="end-to-end's final return")
    ax.set(xlabel='total environment steps', ylabel='evaluation return', title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
