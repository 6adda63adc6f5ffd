"""Parallel seeds: one process per (config, seed), fixed run directories, resume after a stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synergy_control.training import load_checkpoint
from synergy_control.training.sweep import plan, run_environment, sweep

REPO = Path(__file__).resolve().parents[2]
SMOKE = [str(REPO / 'config/train/smoke_td3.yaml'), str(REPO / 'config/train/smoke_sac.yaml')]


def steps(run: Path) -> int:
    return load_checkpoint(run / 'checkpoints' / 'last.pt')['counters']['env_steps']


def test_every_config_and_seed_runs_to_its_end_then_is_skipped(tmp_path, capsys):
    results = sweep(SMOKE, [0, 1], jobs=4, runs_dir=tmp_path, status_every=0.5)
    names = {'smoke_td3_0', 'smoke_td3_1', 'smoke_sac_0', 'smoke_sac_1'}
    assert results == dict.fromkeys(names, 0)
    for name in names:
        run = tmp_path / name
        assert steps(run) == 300 and (run / 'train.log').exists()
        assert load_checkpoint(run / 'checkpoints' / 'last.pt')['config']['seed'] == \
            int(name[-1])
    capsys.readouterr()
    assert sweep(SMOKE, [0, 1], jobs=2, runs_dir=tmp_path) == dict.fromkeys(names, 0)
    assert capsys.readouterr().out.count('skipped') == 4
    assert sweep(SMOKE[:1], [0], jobs=1, runs_dir=tmp_path, total_steps=400) == \
        {'smoke_td3_0': 0}  # extended by resuming
    assert steps(tmp_path / 'smoke_td3_0') == 400


def test_an_interrupted_sweep_resumes_every_run(tmp_path):
    command = [sys.executable, '-m', 'synergy_control.cli', 'sweep', SMOKE[0], '--seeds', '0',
               '1', '--jobs', '2', '--runs-dir', str(tmp_path), '--total-steps', '3000',
               '--status-every', '0.5']
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, 'PYTHONUNBUFFERED': '1'})
    checkpoints = [tmp_path / f'smoke_td3_{s}' / 'checkpoints' / 'last.pt' for s in (0, 1)]
    deadline = time.monotonic() + 120
    while not all(c.exists() for c in checkpoints) and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0, out
    stopped = [steps(c.parents[1]) for c in checkpoints]
    assert all(0 < s < 3000 for s in stopped), stopped
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=600)
    assert [steps(c.parents[1]) for c in checkpoints] == [3000, 3000]


def test_a_bad_config_is_refused_before_anything_starts(tmp_path):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('algorithm: td3\nrobot: walker_7_main\nbatch_size: -1\n')
    with pytest.raises(ValueError, match="'batch_size'"):
        plan([SMOKE[0], bad], [0], tmp_path / 'runs')
    assert not (tmp_path / 'runs').exists()


def test_runs_go_seed_by_seed_so_a_cut_sweep_leaves_balanced_arms(tmp_path):
    order = [run.run_dir.name for run in plan(SMOKE, [0, 1], tmp_path)]
    assert order == ['smoke_td3_0', 'smoke_sac_0', 'smoke_td3_1', 'smoke_sac_1']


def test_each_run_gets_its_share_of_the_cores_unless_threads_are_set(monkeypatch):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.setattr(os, 'cpu_count', lambda: 16)
    assert run_environment(jobs=4)['OMP_NUM_THREADS'] == '4'
    assert run_environment(jobs=32)['OMP_NUM_THREADS'] == '1'
    monkeypatch.setenv('OMP_NUM_THREADS', '3')
    assert run_environment(jobs=4)['OMP_NUM_THREADS'] == '3'
