"""Expert-normalised scores (issue 20): a multi-morphology policy against per-variant experts.

Each expert of ``docs/results/experts.yaml`` is evaluated (``synergy_control.evaluation``,
10 episodes, seeds 0-9) into ``docs/results/experts.{csv,json}``. With ``--policy`` the
multi-robot policy is evaluated on every variant of its card the same way, and each return is
divided by its variant's expert return; the means over the training and the zero-shot variants
are the issue's figures (``--out``, default ``docs/results/<policy stem>_scores``).

    python benchmarks/expert_scores.py                       # the experts' table
    python benchmarks/expert_scores.py --policy models/training/RUN/POLICY.onnx
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks'))

from result_files import write_results  # noqa: E402

from synergy_control.runtime import read_card  # noqa: E402
from synergy_control.evaluation import evaluate  # noqa: E402

COLUMNS = ('robot', 'split', 'mean_return', 'std_return', 'mean_length', 'expert_return',
           'normalised_score')


def load_experts(path: Path) -> dict[str, Path]:
    """Variant name → the expert's ONNX file (relative to the repository root)."""
    return {name: ROOT / file for name, file in (yaml.safe_load(path.read_text()) or {}).items()}


def expert_table(experts: dict[str, Path], episodes: int, out: Path) -> dict[str, float]:
    """Evaluate every expert; write its table; return variant → mean return."""
    rows = []
    for name, policy in experts.items():
        result = evaluate(policy, name, episodes)
        rows.append({'robot': name, 'policy': str(policy.relative_to(ROOT)),
                     'mean_return': result['mean_return'], 'std_return': result['std_return'],
                     'mean_length': result['mean_length'], 'mean_speed': result['mean_speed']})
        print(f"expert {name}: {result['mean_return']:.1f} ± {result['std_return']:.1f}")
    write_results(out, rows, {'episodes': episodes, 'seeds': f'0-{episodes - 1}', 'rows': rows})
    return {row['robot']: row['mean_return'] for row in rows}


def policy_scores(policy: Path, expert_returns: dict[str, float], episodes: int,
                  out: Path) -> dict:
    """Evaluate a multi-robot policy per variant and normalise by the experts."""
    card = read_card(policy)
    split = card.training.get('robots', {})
    zero_shot = set(split.get('zero_shot', []))
    rows = []
    for name in card.robots:
        result = evaluate(policy, name, episodes)
        expert = expert_returns.get(name)
        rows.append({'robot': name, 'split': 'zero_shot' if name in zero_shot else 'train',
                     'mean_return': result['mean_return'], 'std_return': result['std_return'],
                     'mean_length': result['mean_length'], 'expert_return': expert,
                     'normalised_score': None if expert is None
                     else result['mean_return'] / expert})
        print(f"{name} ({rows[-1]['split']}): {result['mean_return']:.1f}, expert "
              f"{expert if expert is None else round(expert, 1)}, "
              f"score {rows[-1]['normalised_score']}")
    summary = {'policy': str(policy), 'episodes': episodes, 'rows': rows}
    for part in ('train', 'zero_shot'):
        scores = [r['normalised_score'] for r in rows
                  if r['split'] == part and r['normalised_score'] is not None]
        summary[f'mean_score_{part}'] = float(np.mean(scores)) if scores else None
        print(f'mean expert-normalised score, {part}: {summary[f"mean_score_{part}"]}')
    write_results(out, rows, summary, COLUMNS)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--experts', type=Path, default=ROOT / 'docs/results/experts.yaml')
    parser.add_argument('--policy', type=Path, help='a multi-robot ONNX policy to score')
    parser.add_argument('--episodes', type=int, default=10)
    parser.add_argument('--out', type=Path, help='result files (without suffix)')
    args = parser.parse_args()
    expert_returns = expert_table(load_experts(args.experts), args.episodes,
                                  ROOT / 'docs/results/experts')
    if args.policy is not None:
        policy_scores(args.policy, expert_returns, args.episodes,
                      args.out or ROOT / f'docs/results/{args.policy.stem}_scores')


if __name__ == '__main__':
    main()
