"""End-to-end runs: smoke training, truncation handling, resume after SIGKILL, SIGTERM."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from synergy_control.envs import make_env
from synergy_control.training import CheckpointError, load_checkpoint, train
from synergy_control.training.buffers import available_memory
from synergy_control.training.checkpoint import save_checkpoint
from synergy_control.training.runner import StopRequest, Trainer
from synergy_control.training.runner import main as runner_main

REPO = Path(__file__).resolve().parents[2]


def read_metrics(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / 'metrics.csv', newline='') as f:
        return list(csv.DictReader(f))


def values(rows: list[dict[str, str]], column: str) -> list[float]:
    return [float(r[column]) for r in rows if r[column]]


@pytest.mark.parametrize('algorithm', ['td3', 'sac'])
def test_smoke_run_learns_logs_and_evaluates(algorithm, smoke_config, snapshot, tmp_path):
    config = smoke_config(algorithm)
    trainer = Trainer(config, tmp_path, 'cpu', progress=False)
    before = snapshot(trainer.agent)
    try:
        trainer.run(StopRequest())
    finally:
        trainer.close()
    assert before.changed()
    rows = read_metrics(tmp_path)
    for name in trainer.agent.metric_names:  # TD3's first log precedes any actor update
        assert all(math.isfinite(v) for v in values(rows, name)[1:]), name
    assert values(rows, 'updates')[-1] == config.total_steps - config.start_steps + 1
    assert [int(r['step']) for r in rows if r['eval_mean']] == [150, 300]
    state = load_checkpoint(tmp_path / 'checkpoints' / 'last.pt')
    assert state['counters']['env_steps'] == 300
    assert state['last_eval']['step'] == 300
    assert (tmp_path / 'checkpoints' / 'best.pt').exists()
    assert list((tmp_path / 'tb').glob('events.out.tfevents.*'))


def test_truncated_episode_ends_are_not_terminal(smoke_config, tmp_path):
    config = smoke_config('td3', total_steps=20, start_steps=100, eval_every=1000)
    trainer = Trainer(config, tmp_path, 'cpu', progress=False)
    trainer.slots[0].env = make_env('walker_7_main', episode_steps=5)  # limit before any fall
    try:
        trainer.run(StopRequest())
    finally:
        trainer.close()
    assert trainer.episodes == 4
    stored = trainer.buffer['walker_7_main'].storage[:20]
    assert torch.all(stored[:, -1] == 0)  # terminated column: truncation bootstraps
    next_obs, obs = stored[4, -18:-1], stored[5, :17]
    assert not torch.equal(next_obs, obs)  # the truncated next_obs, not the reset obs


def test_train_writes_resolved_config_and_refuses_reuse(tmp_path):
    run = train(str(REPO / 'config/train/smoke_sac.yaml'), seed=3, run_dir=str(tmp_path / 'r'),
                progress=False)
    saved = yaml.safe_load((run / 'config.yaml').read_text())
    assert saved['seed'] == 3 and saved['name'] == 'smoke_sac' and saved['td3']['policy_delay']
    with pytest.raises(CheckpointError, match='already has a checkpoint'):
        train(str(REPO / 'config/train/smoke_sac.yaml'), run_dir=str(run), progress=False)


def start_cli(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, 'PYTHONPATH': str(REPO)}
    return subprocess.Popen([sys.executable, '-m', 'synergy_control.training', *args,
                             '--no-progress'], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_checkpoint(proc: subprocess.Popen, path: Path, min_steps: int) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if path.exists():
            state = load_checkpoint(path)  # atomic writes: never a partial file
            if state['counters']['env_steps'] >= min_steps:
                return state
        time.sleep(0.1)
    raise TimeoutError(path)


def long_smoke_config(tmp_path: Path, total_steps: int) -> Path:
    data = yaml.safe_load((REPO / 'config/train/smoke_td3.yaml').read_text())
    data.update(total_steps=total_steps, eval_every=400)
    path = tmp_path / 'long.yaml'
    path.write_text(yaml.safe_dump(data))
    return path


def test_resume_after_sigkill_continues_counters_and_appends_metrics(tmp_path):
    run = tmp_path / 'run'
    proc = start_cli([str(long_smoke_config(tmp_path, 1200)), '--run-dir', str(run)], tmp_path)
    try:
        wait_for_checkpoint(proc, run / 'checkpoints' / 'last.pt', 300)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed = load_checkpoint(run / 'checkpoints' / 'last.pt')
    step = killed['counters']['env_steps']
    rows_before = [r for r in read_metrics(run) if int(r['step']) <= step]

    train(resume=str(run), progress=False)

    state = load_checkpoint(run / 'checkpoints' / 'last.pt')
    assert state['counters']['env_steps'] == 1200
    assert state['counters']['updates'] == 1200 - 100 + 1
    assert state['counters']['episodes'] > killed['counters']['episodes']
    assert state['wall_time'] > killed['wall_time']
    assert len(state['buffer']['walker_7_main']['storage']) == 1000  # kept: restored, filled
    rows = read_metrics(run)
    assert rows[:len(rows_before)] == rows_before  # earlier rows kept, header written once
    steps = [int(r['step']) for r in rows]
    assert steps == sorted(steps) and steps[-1] == 1200
    assert [r['episode'] for r in rows if r['episode']] == [
        str(i) for i in range(1, state['counters']['episodes'] + 1)]


def test_sigterm_writes_final_checkpoint(tmp_path):
    run = tmp_path / 'run'
    proc = start_cli([str(long_smoke_config(tmp_path, 10**6)), '--run-dir', str(run)], tmp_path)
    seen = wait_for_checkpoint(proc, run / 'checkpoints' / 'last.pt', 200)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert 'SIGTERM' in err and '--resume' in err
    final = load_checkpoint(run / 'checkpoints' / 'last.pt')
    assert final['counters']['env_steps'] >= seen['counters']['env_steps']


def test_resume_keeps_the_seed(tmp_path):
    run = train(str(REPO / 'config/train/smoke_td3.yaml'), run_dir=str(tmp_path / 'r'),
                progress=False)
    with pytest.raises(ValueError, match="'seed'"):
        train(resume=str(run), seed=5, progress=False)
    assert np.isfinite(load_checkpoint(run / 'checkpoints' / 'best.pt')['best_eval'])


def test_resume_without_buffer_refills_before_learning(smoke_config, tmp_path):
    config = smoke_config('td3', keep_buffer=False, total_steps=300, start_steps=100,
                          checkpoint_every=300)
    run = train(config=config, run_dir=str(tmp_path / 'r'), progress=False)
    first = load_checkpoint(run / 'checkpoints' / 'last.pt')
    data = yaml.safe_load((run / 'config.yaml').read_text())
    data['total_steps'] = 350  # 50 more steps: fewer than start_steps, so no update yet
    (run / 'config.yaml').write_text(yaml.safe_dump(data))
    state = dict(first, config={**first['config'], 'total_steps': 350})
    save_checkpoint(state, run / 'checkpoints' / 'last.pt')
    train(resume=str(run), progress=False)
    resumed = load_checkpoint(run / 'checkpoints' / 'last.pt')
    assert resumed['counters']['env_steps'] == 350
    assert resumed['counters']['updates'] == first['counters']['updates']


def test_resume_on_a_changed_velocity_clip_warns_and_records_the_new_one(tmp_path, capsys):
    """A family's clip changed since the checkpoint: the run fine-tunes on today's observation,
    says so, and its next checkpoint records the clip it now trains on (export checks it)."""
    run = train(str(REPO / 'config/train/smoke_td3.yaml'), run_dir=str(tmp_path / 'r'),
                progress=False)
    last = run / 'checkpoints' / 'last.pt'
    state = load_checkpoint(last)
    assert state['velocity_clips'] == {'walker_7_main': 10.0}
    save_checkpoint(dict(state, config={**state['config'], 'total_steps': 350},
                         velocity_clips={'walker_7_main': None}), last)
    capsys.readouterr()
    train(resume=str(run), progress=False)
    assert ('observation velocity clip of walker_7_main was None in the checkpoint and is 10.0'
            in capsys.readouterr().err)
    assert load_checkpoint(last)['velocity_clips'] == {'walker_7_main': 10.0}


def test_resume_with_truncated_best_and_stale_temporaries(smoke_config, tmp_path):
    config = smoke_config('td3', total_steps=200, eval_every=100, checkpoint_every=100)
    run = train(config=config, run_dir=str(tmp_path / 'r'), progress=False)
    checkpoints = run / 'checkpoints'
    best = checkpoints / 'best.pt'
    best.write_bytes(best.read_bytes()[:1000])  # truncated: unreadable
    state = load_checkpoint(checkpoints / 'last.pt')
    save_checkpoint(dict(state, config={**state['config'], 'total_steps': 300}),
                    checkpoints / 'last.pt')
    stale = [checkpoints / '.last.pt.k1ll3d.tmp', checkpoints / '.best.pt.k1ll3d.tmp']
    for path in stale:
        path.write_bytes(b'partial checkpoint')

    train(resume=str(run), progress=False)

    assert load_checkpoint(checkpoints / 'last.pt')['counters']['env_steps'] == 300
    assert (checkpoints / 'best_unreadable.pt').exists()
    assert not any(p.exists() for p in stale)


@pytest.mark.parametrize('check, log_every, message', [
    ('at a log point', 10, r'step 110 \(update 11\): critic_loss = nan'),
    ('before a checkpoint', 1000, r'step 150 \(update 51\): critic_loss = nan'),
])
def test_diverged_run_stops_keeping_the_last_good_checkpoint(check, log_every, message,
                                                             tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MuJoCo logs the diverged controls to ./MUJOCO_LOG.TXT
    data = yaml.safe_load((REPO / 'config/train/smoke_td3.yaml').read_text())
    data.update(actor_lr=1e30, critic_lr=1e30, log_every=log_every, checkpoint_every=50)
    config = tmp_path / 'diverge.yaml'
    config.write_text(yaml.safe_dump(data))
    run = tmp_path / 'run'
    assert runner_main([str(config), '--run-dir', str(run), '--no-progress']) != 0
    err = capsys.readouterr().err
    assert re.search(message, err) and 'last.pt of step 100 kept' in err, err
    state = load_checkpoint(run / 'checkpoints' / 'last.pt')
    assert state['counters']['env_steps'] == 100
    assert all(torch.isfinite(t).all() for t in state['agent'].values())


@pytest.mark.parametrize('times_free_memory', [2, 10**4])
def test_buffer_that_cannot_fit_is_refused_naming_the_key_and_leaves_no_run(times_free_memory,
                                                                            smoke_config,
                                                                            tmp_path):
    # twice the free memory is granted lazily by Linux (then the run is killed half-way);
    # 10^4 times fails in the allocator
    row_bytes = (2 * 17 + 6 + 2) * 4
    capacity = available_memory(torch.device('cpu')) // row_bytes * times_free_memory
    config = smoke_config('td3', buffer_size=capacity)
    with pytest.raises(ValueError, match="config key 'buffer_size'.*GiB"):
        train(config=config, run_dir=str(tmp_path / 'run'), progress=False)
    assert not (tmp_path / 'run').exists()


@pytest.mark.parametrize('algorithm', ['td3', 'sac'])
def test_first_losses_equal_those_before_the_policy_registry(algorithm, smoke_config, tmp_path):
    recorded = json.loads((Path(__file__).parent / 'data' / 'smoke_losses.json').read_text())
    config = smoke_config(algorithm, log_every=1, total_steps=119, eval_every=1000)
    trainer = Trainer(config, tmp_path, 'cpu', progress=False)
    try:
        trainer.run(StopRequest())
    finally:
        trainer.close()
    rows = [r for r in read_metrics(tmp_path) if r['updates']]
    for old, new in zip(recorded[algorithm], rows, strict=True):
        for key, value in old.items():
            if value is None:  # TD3 before its first actor update
                assert new[key] == '', key
            else:
                assert float(new[key]) == pytest.approx(value, rel=1e-5, abs=1e-6), (key, old)


def test_shipped_run_resumes_with_the_current_code(tmp_path):
    run = tmp_path / 'walker_td3_0'
    shutil.copytree(REPO / 'models' / 'training' / 'walker_td3_0', run)
    last = run / 'checkpoints' / 'last.pt'
    state = load_checkpoint(last)
    assert 'hidden_sizes' in state['config'] and 'robot_steps' not in state['counters']
    steps = state['counters']['env_steps'] + 20
    config = {**state['config'], 'total_steps': steps, 'eval_episodes': 1}
    save_checkpoint(dict(state, config=config), last)
    train(resume=str(run), progress=False)
    resumed = load_checkpoint(last)
    assert resumed['counters']['robot_steps'] == {'walker_7_main': steps}
    assert resumed['config']['policy'] == {'name': 'mlp', 'hidden_sizes': [256, 256],
                                           'activation': 'relu'}
    assert resumed['last_eval']['eval_mean'] > 3000  # the shipped walker still walks


def test_fractional_updates_per_step_accumulate_and_survive_resume(smoke_config, tmp_path):
    # 0.25 update per transition from the 100th (learning) step on: 151 steps to step 250 owe
    # 37.75 updates, 201 to step 300 owe 50.25: the fraction carries across the resume
    config = smoke_config('td3', total_steps=300, start_steps=100, updates_per_step=0.25,
                          keep_buffer=True, checkpoint_every=150, eval_every=300)
    run = train(config=config, run_dir=str(tmp_path / 'r'), progress=False, total_steps=250)
    assert load_checkpoint(run / 'checkpoints' / 'last.pt')['counters']['updates'] == 37
    train(resume=str(run), progress=False, total_steps=300)
    final = load_checkpoint(run / 'checkpoints' / 'last.pt')
    assert final['counters']['updates'] == 50
    assert yaml.safe_load((run / 'config.yaml').read_text())['total_steps'] == 300


def test_budget_override_is_checked(smoke_config, tmp_path):
    run = train(config=smoke_config('td3', total_steps=200, eval_every=200),
                run_dir=str(tmp_path / 'r'), progress=False)
    with pytest.raises(ValueError, match="'total_steps'.*already at step 200"):
        train(resume=str(run), total_steps=100, progress=False)
    with pytest.raises(ValueError, match="'total_steps'"):
        train(resume=str(run), total_steps=0, progress=False)
