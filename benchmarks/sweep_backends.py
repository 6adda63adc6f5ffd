"""The two sweep backends side by side: 4 smoke-size runs through ``--backend local`` and ``ray``.

Each round runs ``synergy-control sweep smoke_td3 smoke_sac --seeds 0 1`` (4 runs of
``--total-steps`` steps, 2 at a time: ``--jobs 2`` locally, a 2-CPU local Ray instance with
``--cpus-per-run 1``) in a fresh runs directory, once per backend, alternating which goes first.
Every line the sweep prints is timestamped, so per backend it reports:
  * ``wall_s``: the whole command, Ray's start and shutdown included;
  * ``first_start_s``: from the command's start to the first run's process starting;
  * ``run_overhead_s`` per run: the run's process lifetime (its "started" line to its end line)
    minus the training time its checkpoint records: process start, imports, environment
    construction, the final checkpoint and, for Ray, the task's dispatch and return;
  * ``sweep_overhead_s``: ``wall_s`` minus the span from the first start to the last end
    (starting the backend, dispatch gaps, shutdown), and that divided by the 4 runs.
Writes ``benchmarks/results/sweep_backends.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from synergy_control.training import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / 'results'
CONFIGS = [str(ROOT / 'config/train/smoke_td3.yaml'), str(ROOT / 'config/train/smoke_sac.yaml')]
BACKENDS = {'local': ['--backend', 'local', '--jobs', '2'],
            'ray': ['--backend', 'ray', '--cpus-per-run', '1']}
STARTED = re.compile(r'^(\S+): started ')
ENDED = re.compile(r'^(\S+): \d+/\d+.* -- exit code (-?\d+)')


def run_sweep(backend: str, total_steps: int) -> dict:
    """Run one sweep through ``backend`` in a fresh directory; return its timings."""
    with tempfile.TemporaryDirectory() as runs:
        command = [sys.executable, '-m', 'synergy_control.cli', 'sweep', *CONFIGS,
                   '--seeds', '0', '1', '--runs-dir', runs, '--total-steps',
                   str(total_steps), '--status-every', '3600', *BACKENDS[backend]]
        started, ended = {}, {}
        t0 = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True,
                                   env={**os.environ, 'PYTHONUNBUFFERED': '1'})
        for line in process.stdout:
            now = time.perf_counter() - t0
            if match := STARTED.match(line):
                started[match[1]] = now
            elif match := ENDED.match(line):
                assert match[2] == '0', line
                ended[match[1]] = now
        assert process.wait() == 0, f'{backend} sweep failed'
        wall = time.perf_counter() - t0
        trained = {name: load_checkpoint(Path(runs) / name / 'checkpoints' / 'last.pt')
                   ['wall_time'] for name in ended}
    assert len(started) == len(ended) == 4, (started, ended)
    run_overhead = {name: ended[name] - started[name] - trained[name] for name in ended}
    sweep_overhead = wall - (max(ended.values()) - min(started.values()))
    return {'wall_s': wall, 'first_start_s': min(started.values()),
            'run_overhead_s': run_overhead,
            'mean_run_overhead_s': statistics.mean(run_overhead.values()),
            'sweep_overhead_s': sweep_overhead, 'sweep_overhead_per_run_s': sweep_overhead / 4,
            'training_s': trained}


def main() -> None:
    """Alternate the backends for ``--rounds`` rounds; print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--total-steps', type=int, default=300, help='steps per run (smoke)')
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    rounds = {name: [] for name in BACKENDS}
    for index in range(args.rounds):
        for backend in (list(BACKENDS) if index % 2 == 0 else list(BACKENDS)[::-1]):
            result = run_sweep(backend, args.total_steps)
            rounds[backend].append(result)
            print(f"round {index} {backend:5s}: wall {result['wall_s']:.1f} s, first start "
                  f"{result['first_start_s']:.1f} s, overhead per run "
                  f"{result['mean_run_overhead_s']:.1f} s in the run + "
                  f"{result['sweep_overhead_per_run_s']:.1f} s around it", flush=True)
    summary = {name: {key: statistics.median(r[key] for r in results)
                      for key in ('wall_s', 'first_start_s', 'mean_run_overhead_s',
                                  'sweep_overhead_s', 'sweep_overhead_per_run_s')}
               for name, results in rounds.items()}
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / 'sweep_backends.json'
    out.write_text(json.dumps({
        'command': shlex.join(['python', *sys.argv]),
        'machine': {'cpus': os.cpu_count(), 'affinity': sorted(os.sched_getaffinity(0)),
                    'load_average_at_start': load_at_start,
                    'load_average_at_end': os.getloadavg(), 'python': platform.python_version(),
                    'platform': platform.platform()},
        'runs': 4, 'total_steps_per_run': args.total_steps, 'median_over_rounds': summary,
        'rounds': rounds}, indent=2) + '\n')
    print(json.dumps(summary, indent=2))
    print(f'wrote {out}')


if __name__ == '__main__':
    main()
