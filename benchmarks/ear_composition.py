"""EAR composition on HalfCheetah-Run-Jump: what run + jump embeddings do when blended.

    python benchmarks/ear_composition.py --policy models/ear/half_cheetah_run_jump_ear.onnx

For each (run task, jump task) pair, the composed embedding normalise(β z_run + (1 − β) z_jump)
for β from 0 (the jump task) to 1 (the run task): measured forward speed, mean and peak root
height above rest, over ``--episodes`` 200-step episodes on the run task's environment (the seed's
§4.3 composition, where a blend should run *and* jump). Writes
``docs/results/ear_composition.{csv,json,png}``. Runs through the ONNX runtime, as deployed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from result_files import write_results  # noqa: E402  (beside this script)
from synergy_control.methods.ear.commands import blend_table  # noqa: E402
from synergy_control.runtime import read_card  # noqa: E402

RESULTS = ROOT / 'docs' / 'results'
COLUMNS = ('mean_speed', 'mean_height', 'max_height')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--policy', required=True)
    parser.add_argument('--runs', nargs='+', default=['vel:3', 'vel:5'])
    parser.add_argument('--jumps', nargs='+', default=['jump:5', 'jump:10'])
    parser.add_argument('--betas', type=int, default=9, help='betas evenly in [0, 1]')
    parser.add_argument('--episodes', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=str(RESULTS / 'ear_composition'))
    args = parser.parse_args()
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    betas = np.linspace(0.0, 1.0, args.betas).tolist()
    rows = []
    for run in args.runs:
        for jump in args.jumps:
            for row in blend_table(args.policy, run, jump, betas, args.episodes, args.seed):
                rows.append({'run': run, 'jump': jump, 'beta': row['beta'],
                             **{c: row[c] for c in COLUMNS}})
                print(f"{run} + {jump}, beta {row['beta']:.3f}: speed "
                      f"{row['mean_speed']:5.2f} m/s, height mean {row['mean_height']:6.3f} "
                      f"peak {row['max_height']:6.3f} m", flush=True)
    out = Path(args.out)
    write_results(out, rows, {'policy': args.policy, 'episodes': args.episodes,
                              'seed': args.seed, 'command': ' '.join(sys.argv),
                              'training': read_card(args.policy).training, 'rows': rows})
    pairs = [(run, jump) for run in args.runs for jump in args.jumps]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for (run, jump), color in zip(pairs, plt.cm.tab10.colors):
        part = [r for r in rows if (r['run'], r['jump']) == (run, jump)]
        for ax, column in zip(axes, ('mean_height', 'max_height')):
            ax.plot([r['mean_speed'] for r in part], [r[column] for r in part], '-o',
                    color=color, ms=3, label=f'{run} + {jump}')
            ax.annotate('jump', (part[0]['mean_speed'], part[0][column]), fontsize=7)
            ax.annotate('run', (part[-1]['mean_speed'], part[-1][column]), fontsize=7)
    for ax, label in zip(axes, ('mean root height above rest (m)', 'peak root height (m)')):
        ax.set_xlabel('forward speed (m/s)')
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    fig.suptitle('EAR composition: normalise(beta z_run + (1 - beta) z_jump), beta 0 → 1')
    fig.tight_layout()
    fig.savefig(out.with_suffix('.png'), dpi=120)
    print(f'wrote {out.with_suffix(".csv")}, .json, .png')


if __name__ == '__main__':
    main()
