"""Learning-curve plotting over seeds."""

import csv

import numpy as np
import pytest
from scipy import stats

from synergy_control.cli import main
from synergy_control.training import train
from synergy_control.training.plot import SPLIT, eval_curve, mean_ci, plot_runs


def test_mean_ci_is_student_t_interval():
    curves = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]])
    mean, half = mean_ci(curves)
    np.testing.assert_allclose(mean, [3.0, 2.0])
    np.testing.assert_allclose(half, [stats.t.ppf(0.975, 2) * 2.0 / np.sqrt(3), 0.0])
    assert np.all(mean_ci(curves[:1])[1] == 0)


def test_plot_runs_groups_seeds(smoke_config, tmp_path):
    runs = [train(config=smoke_config('td3', total_steps=150, start_steps=50, eval_every=75,
                                      seed=seed), run_dir=str(tmp_path / f's{seed}'),
                  progress=False) for seed in (0, 1)]
    steps, returns = eval_curve(runs[0])
    assert steps.tolist() == [75, 150] and np.all(np.isfinite(returns))
    out = plot_runs(runs, tmp_path / 'plots' / 'curves.png')
    assert out.stat().st_size > 1000


@pytest.fixture(scope='module')
def set_runs(tmp_path_factory):
    """Two seeds of a tiny Walker++ run (4 walkers trained, walker_3 and walker_6 zero-shot)."""
    from synergy_control.training.config import config_from_dict
    root = tmp_path_factory.mktemp('walker_set')
    data = {'robots': 'walker++', 'obs_mode': 'modular', 'algorithm': 'td3', 'total_steps': 120,
            'start_steps': 10, 'batch_size': 16, 'buffer_size': 200, 'eval_every': 60,
            'eval_episodes': 1, 'checkpoint_every': 120, 'log_every': 60, 'num_threads': 1,
            'policy': {'name': 'mlp', 'hidden_sizes': [16]}}
    return [train(config=config_from_dict({**data, 'seed': seed}, name='walker_set'),
                  run_dir=str(root / f's{seed}'), progress=False) for seed in (0, 1)]


def test_a_chosen_column_is_read_and_a_missing_one_is_named(set_runs, smoke_config, tmp_path):
    steps, zero_shot = eval_curve(set_runs[0], 'eval_zero_shot_mean')
    with open(f'{set_runs[0]}/metrics.csv', newline='') as f:
        logged = [np.mean([float(r[f'eval_mean/walker_{n}_main']) for n in (3, 6)])
                  for r in csv.DictReader(f) if r['eval_mean']]
    assert steps.tolist() == [60, 120]
    np.testing.assert_allclose(zero_shot, logged)
    single = train(config=smoke_config('td3', total_steps=60, start_steps=20, eval_every=60),
                   run_dir=str(tmp_path / 'single'), progress=False)
    with pytest.raises(ValueError, match=r"metrics\.csv has no column 'eval_zero_shot_mean'"):
        eval_curve(single, 'eval_zero_shot_mean')


def test_split_draws_training_and_zero_shot_panels(set_runs, tmp_path, capsys):
    out = tmp_path / 'split.png'
    assert main(['plot', *map(str, set_runs), '--out', str(out), '--split']) == 0
    assert out.stat().st_size > 1000
    one = plot_runs(set_runs, tmp_path / 'one.png')
    wide = plot_runs(set_runs, tmp_path / 'wide.png', columns=SPLIT)
    assert _width(wide) == 2 * _width(one)
    assert main(['plot', *map(str, set_runs), '--out', str(out), '--column',
                 'eval_mean/walker_2_main', '--column', 'eval_mean/walker_3_main']) == 0


def test_split_and_column_together_are_refused(set_runs, tmp_path, capsys):
    assert main(['plot', str(set_runs[0]), '--out', str(tmp_path / 'x.png'), '--split',
                 '--column', 'eval_mean']) == 2
    assert '--split or --column' in capsys.readouterr().err


def _width(png) -> int:
    """Pixel width of a PNG, from its header."""
    return int.from_bytes(png.read_bytes()[16:20], 'big')
