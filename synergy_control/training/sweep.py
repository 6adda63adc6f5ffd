"""Several seeds (and configs) trained in parallel, one process each, resumed where they stopped.

``synergy-control sweep CONFIG... --seeds 0 1 2 --jobs 6 [--device cuda]`` runs every
(config, seed) pair as its own ``synergy-control train`` process in ``RUNS/<config>_<seed>``:
a fixed directory, so the same command run again after an interruption resumes each run from
its ``last.pt`` (``--total-steps`` extends them), starts the missing ones and skips the
finished ones. Each process uses the config's ``num_threads`` (one per simulation and update
loop on a CPU machine, the GPU for the networks with ``--device cuda``), so ``--jobs`` runs
fill the machine's cores; a config that leaves ``num_threads`` at 0 gets the cores divided by
``--jobs`` (``OMP_NUM_THREADS``, unless already set): torch's default of every core in every
run oversubscribes the machine, and its spinning threads made a SAC run 4× slower. Output of
each run goes to ``RUNS/<config>_<seed>/train.log``; a status line per run is printed every
``--status-every`` seconds. Ctrl-C or SIGTERM stops every run with a final checkpoint.

``--backend ray`` runs the same plan as Ray tasks on a cluster (``ray_sweep.py``); what a run
is, how it is skipped, started, reported and summarised lives here, shared by both backends.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from synergy_control.training.checkpoint import CheckpointError, load_checkpoint
from synergy_control.training.config import load_config


@dataclass
class SweepRun:
    """One (config, seed) pair of a sweep and its fixed run directory."""

    config: Path
    seed: int
    run_dir: Path
    total_steps: int

    def steps_done(self) -> int:
        """Environment steps of the newest checkpoint (0 without one)."""
        last = self.run_dir / 'checkpoints' / 'last.pt'
        if not last.exists():
            return 0
        try:
            return int(load_checkpoint(last)['counters']['env_steps'])
        except CheckpointError:
            return 0

    def command(self, device: str | None, total_steps: int | None) -> list[str]:
        """Return the ``train`` command line that starts or resumes this run."""
        argv = [sys.executable, '-m', 'synergy_control.training', '--no-progress']
        if (self.run_dir / 'checkpoints' / 'last.pt').exists():
            argv += ['--resume', str(self.run_dir)]
        else:
            argv += [str(self.config), '--seed', str(self.seed), '--run-dir', str(self.run_dir)]
        if device:
            argv += ['--device', device]
        if total_steps:
            argv += ['--total-steps', str(total_steps)]
        return argv

    def finished(self) -> bool:
        """Whether the run already reached its budget (and says so: a sweep skips it)."""
        if self.steps_done() < self.total_steps:
            return False
        print(f'{self.run_dir.name}: finished ({self.total_steps} steps), skipped', flush=True)
        return True

    def progress(self) -> str:
        """Return a short status: the latest logged step of the budget, the latest evaluation."""
        metrics = self.run_dir / 'metrics.csv'
        step, evaluation = 0, ''
        if metrics.exists():
            with open(metrics, newline='') as f:
                for row in csv.DictReader(f):
                    if row.get('step', '').isdigit():
                        step = int(row['step'])
                    if row.get('eval_mean'):
                        evaluation = f", eval {float(row['eval_mean']):.1f}"
        return f'{self.run_dir.name}: {step}/{self.total_steps}{evaluation}'

    def ended(self, code: int, why: str = '') -> None:
        """Print the run's end line: its progress and exit code (and why, when it was lost)."""
        print(f'{self.progress()} -- exit code {code}{why}', flush=True)


def print_status(runs: Sequence[SweepRun]) -> None:
    """Print one status line over the runs in progress."""
    print(' | '.join(run.progress() for run in runs), flush=True)


def plan(configs: Sequence[str | Path], seeds: Sequence[int], runs_dir: str | Path,
         total_steps: int | None = None) -> list[SweepRun]:
    """Every (config, seed) pair with its run directory; configs are validated first.

    Seed-major order (every config's seed 0, then every config's seed 1, ...): a sweep cut short
    leaves the arms of a comparison with equal numbers of seeds. Paths are made absolute: a run
    may start in another working directory (a Ray worker's).
    """
    loaded = [(Path(path).resolve(), load_config(path)) for path in configs]
    return [SweepRun(path, int(seed), Path(runs_dir).resolve() / f'{config.name}_{seed}',
                     total_steps or config.total_steps)
            for seed in seeds for path, config in loaded]


def run_environment(jobs: int) -> dict[str, str]:
    """Return the environment of a run: this one, with torch's threads capped to its core share."""
    environment = os.environ.copy()
    environment.setdefault('OMP_NUM_THREADS', str(max(1, (os.cpu_count() or 1) // jobs)))
    return environment


def sweep(configs: Sequence[str | Path], seeds: Sequence[int], *, jobs: int,
          runs_dir: str | Path = 'runs', device: str | None = None,
          total_steps: int | None = None, status_every: float = 60.0) -> dict[str, int]:
    """Run the sweep to its end (or a stop signal); return each run's exit code by name.

    A run whose checkpoint already reached its budget is skipped (exit code 0). Exit code 2
    of a run (bad config, diverged) does not stop the others.
    """
    if jobs < 1:
        raise ValueError(f'--jobs must be >= 1, got {jobs}')
    pending = plan(configs, seeds, runs_dir, total_steps)
    results: dict[str, int] = {}
    running: dict[str, tuple[SweepRun, subprocess.Popen]] = {}
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for _, process in running.values():
            process.send_signal(signal.SIGINT)  # each run checkpoints and exits

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    last_status = time.monotonic()
    try:
        while pending or running:
            while pending and len(running) < jobs and not stopping:
                run = pending.pop(0)
                if run.finished():
                    results[run.run_dir.name] = 0
                    continue
                run.run_dir.mkdir(parents=True, exist_ok=True)
                log = open(run.run_dir / 'train.log', 'a')
                process = subprocess.Popen(run.command(device, total_steps), stdout=log,
                                           stderr=subprocess.STDOUT, env=run_environment(jobs),
                                           start_new_session=True)
                log.close()
                running[run.run_dir.name] = (run, process)
                print(f'{run.run_dir.name}: started (pid {process.pid})', flush=True)
            if stopping:
                pending.clear()
            for name, (run, process) in list(running.items()):
                if process.poll() is not None:
                    results[name] = process.returncode
                    del running[name]
                    run.ended(process.returncode)
            if running and time.monotonic() - last_status >= status_every:
                last_status = time.monotonic()
                print_status([run for run, _ in running.values()])
            time.sleep(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return results
