"""Sample-efficiency comparison: SAR-RL steps count from the start of play."""

import csv
import json

import pytest

from synergy_control.cli import main
from synergy_control.methods.sar.efficiency import algorithm_of, compare

COLUMNS = ['step', 'wall_time', 'episode', 'episode_return', 'eval_mean']


def run(tmp_path, name: str, evals: dict[int, float]):
    """A run directory whose metrics.csv holds these evaluations (between episode rows)."""
    directory = tmp_path / name
    directory.mkdir()
    (directory / 'config.yaml').write_text(f'name: {name}\n')
    with open(directory / 'metrics.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        for step, value in evals.items():
            writer.writerow({'step': step - 1, 'episode_return': 1.0})
            writer.writerow({'step': step, 'eval_mean': value})
    return directory


def test_steps_to_the_end_to_end_final_return(tmp_path, capsys):
    baseline = [run(tmp_path, 'e2e_0', {10: 0, 20: 50, 30: 90, 40: 100, 50: 110}),
                run(tmp_path, 'e2e_1', {10: 0, 20: 70, 30: 110, 40: 100, 50: 90})]
    sar = [run(tmp_path, 'sar_0', {10: 80, 20: 100, 30: 130}),
           run(tmp_path, 'sar_1', {10: 60, 20: 120, 30: 150})]
    result = compare(sar, baseline, play_steps=5, final_evals=3)
    assert result['target_return'] == pytest.approx(100.0)  # last 3 evaluations of both seeds
    assert result['end_to_end']['steps_to_target'] == 30  # seed mean 100 at step 30
    assert result['end_to_end']['steps_to_target_per_seed'] == [40, 30]
    assert result['sar']['steps_to_target'] == 25  # 5 play steps + 20
    assert result['sar']['steps_to_target_per_seed'] == [25, 25]
    assert result['ratio'] == pytest.approx(25 / 30)
    assert result['sar']['final_return_per_seed'] == pytest.approx([(80 + 100 + 130) / 3,
                                                                    (60 + 120 + 150) / 3])
    # two seeds 6.67 apart: t(0.975, 1) = 12.706 times the standard error 3.33
    assert result['sar']['final_return_ci95'] == pytest.approx(12.706 * 10 / 3, rel=1e-3)

    out = tmp_path / 'curves.png'
    assert main(['synergies', 'efficiency', '--sar', *map(str, sar), '--baseline',
                 *map(str, baseline), '--play-steps', '5', '--out', str(out), '--json']) == 0
    assert json.loads(capsys.readouterr().out)['ratio'] == pytest.approx(25 / 30)
    assert out.stat().st_size > 0

    never = [run(tmp_path, 'sar_low', {10: 10, 20: 20})]
    alone = compare(never, baseline, play_steps=5)
    assert alone['ratio'] is None
    assert alone['sar']['final_return_ci95'] is None  # one seed: no interval


def test_runs_without_evaluations_are_refused(tmp_path):
    empty = run(tmp_path, 'empty', {})
    with pytest.raises(ValueError, match='needs evaluations'):
        compare([empty], [empty], play_steps=0)


def test_the_curves_name_the_end_to_end_algorithm(tmp_path):
    ppo = [run(tmp_path, f'ppo_{seed}', {10: 1.0}) for seed in (0, 1)]
    for directory in ppo:
        (directory / 'config.yaml').write_text('algorithm: ppo\n')
    sac = run(tmp_path, 'sac', {10: 1.0})
    (sac / 'config.yaml').write_text('algorithm: sac\n')
    assert algorithm_of(ppo) == 'PPO'
    assert algorithm_of([*ppo, sac]) == 'RL'  # a mixed baseline claims no one algorithm
    assert algorithm_of([run(tmp_path, 'unnamed', {10: 1.0})]) == 'RL'
