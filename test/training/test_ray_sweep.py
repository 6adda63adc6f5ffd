"""Sweeps on real Ray (a local instance on loopback, 2 CPUs): the local backend's runs, resume
after a killed worker or Ctrl-C, one-line refusals, and no Ray process left behind.

Every sweep runs as the ``synergy-control sweep`` command in a subprocess with its own
``RAY_TMPDIR``, so that the Ray processes it starts are found (by process id, while it runs)
and shown gone after it exits.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from synergy_control.training import load_checkpoint
from synergy_control.training.ray_sweep import (SweepControl, check_resources, import_ray,
                                                run_task, sweep_on_ray)
from synergy_control.training.sweep import plan, sweep

pytestmark = pytest.mark.ray

REPO = Path(__file__).resolve().parents[2]
SMOKE = [str(REPO / 'config/train/smoke_td3.yaml'), str(REPO / 'config/train/smoke_sac.yaml')]
LOOPBACK = {'127.0.0.1', '::ffff:127.0.0.1', '::1'}


def steps(run: Path) -> int:
    return load_checkpoint(run / 'checkpoints' / 'last.pt')['counters']['env_steps']


class WatchedSweep:
    """``synergy-control sweep --backend ray`` in a subprocess, its Ray processes found by pid."""

    def __init__(self, *args: str, cpus: int = 2):
        # A short path of its own: Ray's socket paths must stay under 108 characters.
        self.ray_tmp = Path(tempfile.mkdtemp(prefix='ray', dir='/tmp'))
        command = [sys.executable, '-m', 'synergy_control.cli', 'sweep', *args,
                   '--backend', 'ray']
        environment = {**os.environ, 'PYTHONUNBUFFERED': '1', 'RAY_TMPDIR': str(self.ray_tmp)}
        environment.pop('RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER', None)
        self.process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=environment)
        self.ray_processes: dict[int, psutil.Process] = {}
        self.listening: set[tuple[str, int]] = set()
        self.names: set[str] = set()

    def sample(self) -> None:
        """Record the sweep's Ray processes (by pid) and the TCP ports they listen on."""
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return
        for child in children:
            try:
                if str(self.ray_tmp) in ' '.join(child.cmdline()) or \
                        child.name().startswith(('ray::', 'raylet', 'gcs_server')):
                    self.ray_processes.setdefault(child.pid, child)
                    self.names.add(child.name())
                    self.listening |= {(c.laddr.ip, c.laddr.port)
                                       for c in child.net_connections(kind='tcp')
                                       if c.status == psutil.CONN_LISTEN}
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue

    def wait_for(self, condition, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline and self.process.poll() is None, \
                self.process.stderr.read() if self.process.poll() is not None else 'timeout'
            self.sample()
            time.sleep(0.2)

    def finish(self, timeout: float = 600) -> tuple[int, str, str]:
        """Wait for the sweep to exit, sampling its processes; return (code, stdout, stderr)."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self.sample()
            time.sleep(0.2)
        out, err = self.process.communicate(timeout=10)
        return self.process.returncode, out, err

    def left_behind(self) -> list[str]:
        """The tracked Ray processes still alive a few seconds after the sweep exited."""
        deadline = time.monotonic() + 15
        while True:
            alive = [f'{p.pid} {p.name()}' for p in self.ray_processes.values()
                     if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
            if not alive or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if not alive:
            shutil.rmtree(self.ray_tmp, ignore_errors=True)
        return alive


def data_columns(run: Path) -> list[dict]:
    """metrics.csv without its timing column."""
    with open(run / 'metrics.csv', newline='') as f:
        return [{k: v for k, v in row.items() if k != 'wall_time'} for row in csv.DictReader(f)]


def test_a_ray_sweep_writes_what_the_local_backend_writes(tmp_path):
    """2 configs x 2 seeds: same directories, configs, checkpoint counters, bit-equal metrics."""
    sweep(SMOKE, [0, 1], jobs=2, runs_dir=tmp_path / 'local', total_steps=200)
    watched = WatchedSweep(*SMOKE, '--seeds', '0', '1', '--runs-dir', str(tmp_path / 'ray'),
                           '--total-steps', '200', '--status-every', '1')
    code, out, err = watched.finish()
    assert code == 0, err
    assert '4 of 4 runs ended normally' in out and 'Traceback' not in err
    names = {'smoke_td3_0', 'smoke_td3_1', 'smoke_sac_0', 'smoke_sac_1'}
    assert {p.name for p in (tmp_path / 'ray').iterdir()} == names  # the marker is removed
    for name in names:
        local, ray = tmp_path / 'local' / name, tmp_path / 'ray' / name
        files = {str(p.relative_to(local)) for p in local.rglob('*') if 'tb' not in p.parts}
        assert files == {str(p.relative_to(ray)) for p in ray.rglob('*') if 'tb' not in p.parts}
        assert len(list((ray / 'tb').iterdir())) == 1
        assert (local / 'config.yaml').read_text() == (ray / 'config.yaml').read_text()
        local_state = load_checkpoint(local / 'checkpoints' / 'last.pt')
        ray_state = load_checkpoint(ray / 'checkpoints' / 'last.pt')
        assert local_state['counters'] == ray_state['counters'] and steps(ray) == 200
        assert data_columns(local) == data_columns(ray)
    # Every Ray server listened on loopback only, and all of them are gone after the sweep.
    assert {'raylet', 'gcs_server'} <= watched.names, watched.names
    assert watched.listening and {ip for ip, _ in watched.listening} <= LOOPBACK, \
        watched.listening
    assert watched.left_behind() == []


def test_a_killed_worker_and_ctrl_c_both_resume_from_the_checkpoint(tmp_path):
    """Kill seed 0's Ray worker mid-run, Ctrl-C the sweep (seed 1 checkpoints), run it again."""
    args = [SMOKE[0], '--seeds', '0', '1', '--runs-dir', str(tmp_path), '--total-steps',
            '800', '--status-every', '1']
    runs = [tmp_path / f'smoke_td3_{seed}' for seed in (0, 1)]
    watched = WatchedSweep(*args)
    watched.wait_for(lambda: all((run / 'checkpoints' / 'last.pt').exists() for run in runs))
    trainers = {}
    for child in psutil.Process(watched.process.pid).children(recursive=True):
        command = child.cmdline()
        if 'synergy_control.training' in command:
            trainers[Path(command[command.index('--run-dir') + 1]).name] = child
    trainer = trainers['smoke_td3_0']
    assert trainer.environ()['OMP_NUM_THREADS'] == '1'  # its declared CPUs
    worker = trainer.parent()
    assert worker.name().startswith('ray::'), worker.name()
    worker.kill()
    watched.process.send_signal(signal.SIGINT)
    code, out, err = watched.finish(timeout=180)
    trainer.wait(timeout=120)  # told by the kernel (SIGTERM): final checkpoint, then exit
    assert code == 2, err  # one run failed: the killed one
    assert 'smoke_td3_0' in out and 'run the sweep again to resume it' in out
    assert "failed: {'smoke_td3_0': 1}" in out and 'Traceback' not in err
    assert all(0 < steps(run) < 800 for run in runs), [steps(run) for run in runs]
    assert watched.left_behind() == []

    again = WatchedSweep(*args)
    code, out, err = again.finish()
    assert code == 0, err
    assert [steps(run) for run in runs] == [800, 800]
    for run in runs:
        with open(run / 'metrics.csv', newline='') as f:
            logged = [int(row['step']) for row in csv.DictReader(f)]
        assert logged == sorted(logged)  # continued from the checkpoint, not started over
    assert again.left_behind() == []


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize('case', ['unknown address', 'zero CPUs', 'bad config', 'no GPU'])
def test_a_refused_sweep_says_why_in_one_line_and_leaves_no_ray_process(tmp_path, case):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('algorithm: td3\nrobot: walker_7_main\nbatch_size: -1\n')
    configs, options, named = {
        'unknown address': ([], ['--address', f'127.0.0.1:{free_loopback_port()}'],
                            'no Ray cluster there'),
        'zero CPUs': ([], ['--cpus-per-run', '0'], '--cpus-per-run'),
        'bad config': ([str(bad)], [], "'batch_size'"),
        'no GPU': ([], ['--gpus-per-run', '1'], '--gpus-per-run 1)'),
    }[case]
    watched = WatchedSweep(SMOKE[0], *configs, '--seeds', '0', '--runs-dir',
                           str(tmp_path / 'runs'), *options)
    code, out, err = watched.finish(timeout=120)
    assert code == 2
    errors = [line for line in err.splitlines() if 'error:' in line]
    assert len(errors) == 1 and named in errors[0], err
    assert 'Traceback' not in err
    assert not (tmp_path / 'runs').exists()
    started_ray = any(watched.ray_tmp.iterdir())
    assert started_ray == (case == 'no GPU')  # the others are refused before Ray starts
    assert bool(watched.ray_processes) == bool(watched.listening) == started_ray
    assert {ip for ip, _ in watched.listening} <= LOOPBACK, watched.listening  # Ray's servers
    assert watched.left_behind() == []


def test_a_missing_ray_says_what_to_install(tmp_path):
    code = ('import sys; sys.modules["ray"] = None\n'  # what a default install looks like
            'from synergy_control.cli import main\n'
            f'sys.exit(main(["sweep", {SMOKE[0]!r}, "--runs-dir", {str(tmp_path)!r}, '
            '"--backend", "ray"]))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "synergy-control sweep: error: --backend ray needs Ray: pip install -r "
        "requirements/cluster.txt (or pip install '.[cluster]')"]


def test_resources_are_checked_against_the_nodes_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match='--cpus-per-run'):
        sweep_on_ray(SMOKE, [0], runs_dir=tmp_path, cpus_per_run=0)
    with pytest.raises(ValueError, match='--gpus-per-run'):
        sweep_on_ray(SMOKE, [0], runs_dir=tmp_path, gpus_per_run=float('nan'))
    nodes = [{'Alive': True, 'Resources': {'CPU': 2.0}},
             {'Alive': False, 'Resources': {'CPU': 16.0, 'GPU': 1.0}}]
    check_resources(nodes, 2, 0)
    with pytest.raises(RuntimeError, match='4 CPUs and 0 GPUs .* the largest has 2 CPUs, 0 GPUs'):
        check_resources(nodes, 4, 0)
    with pytest.raises(RuntimeError, match=r'--gpus-per-run 1\)'):
        check_resources(nodes, 1, 1)  # the node with a GPU is dead
    assert not tmp_path.joinpath('smoke_td3_0').exists()


def test_a_node_that_cannot_see_the_runs_directory_refuses_the_run(tmp_path):
    """The shared-filesystem check, in a real task: the driver's marker is missing there."""
    (run,) = plan(SMOKE[:1], [0], tmp_path / 'runs')
    ray_tmp = tempfile.mkdtemp(prefix='ray', dir='/tmp')
    ray = import_ray(local=True)
    ray.init(num_cpus=1, _node_ip_address='127.0.0.1', include_dashboard=False,
             log_to_driver=False, _temp_dir=ray_tmp)
    try:
        control = ray.remote(SweepControl).options(num_cpus=0).remote()
        outcome = ray.get(ray.remote(run_task).remote(
            run, tmp_path / 'runs' / '.sweep-ray-elsewhere', None, None, 1, control))
    finally:
        ray.shutdown()
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert outcome['code'] == 2
    assert f"{tmp_path / 'runs'} is not visible on node 127.0.0.1" in outcome['why']
    assert not run.run_dir.exists()
