"""EAR adaptation to a new task: CEM in the embedding space against two baselines.

    python benchmarks/ear_adaptation.py --policy models/half_cheetah_vel_ear.onnx \\
        --task vel:4.5 --gradient-runs RUN... --scratch-runs RUN... [--seeds 0 1 2]

- **CEM** (EAR Algorithm 2, networks frozen): ``synergy-control tasks adapt``'s search, one
  episode per candidate; the curve is the best return found against environment steps used.
- **gradient**: runs of ``config/train/half_cheetah_vel_ear_adapt_cpu.yaml`` (frozen encoder and
  decoder, a free embedding learned by SAC); their evaluation return against env steps.
- **scratch**: runs of ``config/train/half_cheetah_vel_single_sac_cpu.yaml`` (single-task SAC).

Writes ``docs/results/ear_adaptation.{csv,json,png}`` (mean and 95% CI, Student t, across
seeds per method). The CEM curve reports the best candidate's training-episode return, the SAC
curves the deterministic evaluation return: both are returns of one 200-step episode of the
task.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from result_files import write_results  # noqa: E402  (beside this script)
from synergy_control.methods.ear.commands import adapt  # noqa: E402
from synergy_control.training.plot import mean_ci  # noqa: E402

RESULTS = ROOT / 'docs' / 'results'


def cem_curves(policy: str, task: str, seeds: list[int]) -> list[list[tuple[int, float]]]:
    """Per seed: (env steps used, best return so far) after each CEM iteration."""
    curves = []
    for seed in seeds:
        result = adapt(policy, task, iterations=10, elites=6, samples_per_elite=14, noise=0.5,
                       seed=seed)
        per_iteration = result['env_steps'] // len(result['best_return_per_iteration'])
        best = np.maximum.accumulate(result['best_return_per_iteration'])
        curves.append([(per_iteration * (i + 1), float(b)) for i, b in enumerate(best)])
        print(f"CEM seed {seed}: {best[-1]:.1f} after {result['env_steps']} steps", flush=True)
    return curves


def run_curves(runs: list[str]) -> list[list[tuple[int, float]]]:
    """Per run: (env step, evaluation return) rows of its metrics.csv."""
    curves = []
    for run in runs:
        with open(Path(run) / 'metrics.csv', newline='') as f:
            curves.append([(int(r['step']), float(r['eval_mean'])) for r in csv.DictReader(f)
                           if r['eval_mean']])
    return curves


def summarise(curves: list[list[tuple[int, float]]]) -> list[dict]:
    """Mean and 95% CI (Student t, as ``synergy-control plot``) at the steps all curves share."""
    steps = sorted(set.intersection(*(set(s for s, _ in c) for c in curves)))
    values = np.array([[dict(c)[step] for step in steps] for c in curves])
    mean, half = mean_ci(values) if steps else ([], [])
    return [{'step': step, 'mean': float(m), 'ci95': float(h), 'n': len(curves)}
            for step, m, h in zip(steps, mean, half)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--policy', required=True)
    parser.add_argument('--task', default='vel:4.5')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--gradient-runs', nargs='*', default=[])
    parser.add_argument('--scratch-runs', nargs='*', default=[])
    parser.add_argument('--out', default=str(RESULTS / 'ear_adaptation'))
    args = parser.parse_args()
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    methods = {'CEM (embedding only)': cem_curves(args.policy, args.task, args.seeds)}
    if args.gradient_runs:
        methods['gradient (embedding only)'] = run_curves(args.gradient_runs)
    if args.scratch_runs:
        methods['SAC from scratch'] = run_curves(args.scratch_runs)
    summary = {name: summarise(curves) for name, curves in methods.items()}
    out = Path(args.out)
    write_results(out, [{'method': name, **r} for name, rows in summary.items() for r in rows],
                  {'policy': args.policy, 'task': args.task, 'cem_seeds': args.seeds,
                   'gradient_runs': args.gradient_runs, 'scratch_runs': args.scratch_runs,
                   'command': ' '.join(sys.argv), 'curves': summary},
                  columns=('method', 'step', 'mean', 'ci95', 'n'))
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, rows in summary.items():
        steps = np.array([r['step'] for r in rows])
        mean, ci = np.array([r['mean'] for r in rows]), np.array([r['ci95'] for r in rows])
        ax.plot(steps, mean, label=f"{name} (n={rows[0]['n'] if rows else 0})")
        ax.fill_between(steps, mean - ci, mean + ci, alpha=0.2)
    ax.set_xlabel('environment steps on the new task')
    ax.set_ylabel('return (one 200-step episode)')
    ax.set_title(f'EAR adaptation to {args.task}')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out.with_suffix('.png'), dpi=120)
    print(f'wrote {out.with_suffix(".csv")}, .json, .png')


if __name__ == '__main__':
    main()
