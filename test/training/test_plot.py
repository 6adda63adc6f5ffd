"""Learning-curve plotting over seeds."""

import numpy as np
from scipy import stats

from synergy_control.training import train
from synergy_control.training.plot import eval_curve, mean_ci, plot_runs


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
