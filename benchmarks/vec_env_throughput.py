"""Env steps per second of VectorEnv against raw MuJoCo and gymnasium's vector envs.

For N = 1, 8, 32, 64 environments of three set-ups, in one run, interleaved rounds (each round
times every contender once, a fixed wall time each), best round kept, random actions:

``walker``
    walker_7_main, flat observation; gymnasium's Walker2d-v5 beside it.
``humanoid``
    humanoid, flat observation (Humanoid-v5's 348 values); gymnasium's Humanoid-v5 beside it.
``walker++``
    the training walkers of ``robots: walker++`` (env ``i`` drives walker ``i % 4``), modular
    observation (SMP limb tokens), padded; gymnasium has no equivalent. At N = 1 that is
    walker_2_main alone.

Contenders:

``raw_mujoco``
    N ``MjData`` of the same models, ``mj_step(nstep=frame_skip)`` + ``mj_rnePostConstraint``
    per env step, random controls in the control range; no observation or reward. A robot whose
    torso leaves the task's height range goes back to its rest pose (``mj_resetData``), as the
    environments reset on falling: a fallen robot's contacts make a step dearer, so without it
    raw MuJoCo would be stepping other states than the environments (most of all the humanoid).
``vec_env``
    our ``VectorEnv.step`` (observation, reward, termination, auto-reset).
``vec_env_baseline_obs``
    with ``--baseline-observation FILE``: the same, every env's observation builder taken
    from an older ``observation.py`` (``git show REV:synergy_control/observation.py``), for
    a side-by-side figure of an observation change.
``vec_env_baseline``
    with ``--baseline-rev REV``: the ``VectorEnv`` of an older commit, its whole package
    (``git archive REV synergy_control``, imported as ``synergy_control_baseline``), for a
    side-by-side figure of a change to the stepping code.
``gym_sync`` / ``gym_async``
    gymnasium's ``SyncVectorEnv`` / ``AsyncVectorEnv`` (one worker process per env, fork
    context, shared memory) of ``gymnasium.make(ENV_ID)``.

``--single-env``: instead, ``LocomotionEnv.step`` alone (what the off-policy trainers,
evaluation and the ROS bridge call), µs per call of this checkout's env against
``--baseline-rev``'s (required) on walker_7_main flat, humanoid flat and walker_4_main modular.
Both envs reset with one seed and take one action bank, so their k-th steps start from the
same state (the step is bit-equal: their qpos is compared after every round);
``--single-rounds`` interleaved rounds of ``--single-steps`` calls each (which one goes first
alternates), CPU time per call (``time.process_time``). The figure is the median over k of
the k-th steps' time ratio: on a shared machine a step the scheduler interrupted is an outlier
of that distribution (``results/single_env_step.json``).

Run it pinned to one core (``taskset -c 0``). Every in-process contender then runs on that
core; the async workers are allowed on both cores (the parent widens its affinity to 0-1 while
it forks them, then narrows it back), so their figure is also given **per core used**: env
steps per CPU-second of the parent and all its workers (``/proc/PID/schedstat``). Every
contender reports both wall-clock steps/s and steps per CPU-second; on a shared machine the
CPU-second figure is the one that does not count time the scheduler gave to other processes,
and the ratios to raw MuJoCo are taken on it (the wall ratios are in the JSON too).

    taskset -c 0 .venv/bin/python benchmarks/vec_env_throughput.py
    taskset -c 0 .venv/bin/python benchmarks/vec_env_throughput.py --single-env --baseline-rev main
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium
import mujoco
import numpy as np

from synergy_control.envs.locomotion import LocomotionEnv
from synergy_control.robots import get_robot
from synergy_control.training.vec_env import VectorEnv

RESULTS = Path(__file__).resolve().parent / 'results'
COUNTS = (1, 8, 32, 64)
# set-up: (our environment names, observation mode, gymnasium id or None)
SETUPS: dict[str, tuple[list[str], str, str | None]] = {
    'walker': (['walker_7_main'], 'flat', 'Walker2d-v5'),
    'humanoid': (['humanoid'], 'flat', 'Humanoid-v5'),
    'walker++': (['walker_2_main', 'walker_4_main', 'walker_5_main', 'walker_7_main'],
                 'modular', None),
}
# --single-env set-ups: (environment name, observation mode)
SINGLE_SETUPS: dict[str, tuple[str, str]] = {
    'walker': ('walker_7_main', 'flat'), 'humanoid': ('humanoid', 'flat'),
    'walker++': ('walker_4_main', 'modular')}


def cpu_seconds_of(pids: list[int]) -> float:
    """CPU time (s) the processes ``pids`` have run, from ``/proc/PID/schedstat`` (ns)."""
    return sum(int(Path(f'/proc/{pid}/schedstat').read_text().split()[0]) for pid in pids) / 1e9


class Contender:
    """One way of stepping N environments: ``step()`` advances all N by one control step."""

    def __init__(self, step: Callable[[], object], num_envs: int,
                 worker_pids: list[int] | None = None, close: Callable[[], object] = lambda: None):
        self.step, self.num_envs, self.close = step, num_envs, close
        self.worker_pids = worker_pids or []

    def measure(self, seconds: float) -> dict:
        """Step for about ``seconds`` of wall time; env steps per wall and per CPU second."""
        self.step()  # warm (first-call allocations, worker wake-up)
        cpu0 = time.process_time() + cpu_seconds_of(self.worker_pids)
        start, calls = time.perf_counter(), 0
        while True:
            self.step()
            calls += 1
            wall = time.perf_counter() - start
            if wall >= seconds:
                break
        cpu = time.process_time() + cpu_seconds_of(self.worker_pids) - cpu0
        steps = calls * self.num_envs
        return {'env_steps': steps, 'wall_s': wall, 'cpu_s': cpu,
                'steps_per_s': steps / wall, 'steps_per_cpu_s': steps / cpu,
                'cores_used': cpu / wall}


class RandomActions:
    """A bank of uniform random actions [bank, N, width], cycled through."""

    def __init__(self, num_envs: int, width: int, low: float | np.ndarray = -1.0,
                 high: float | np.ndarray = 1.0, bank: int = 64, seed: int = 0):
        self.bank = np.random.default_rng(seed).uniform(low, high, (bank, num_envs, width))
        self.index = 0

    def next(self) -> np.ndarray:
        """The next [N, width] actions."""
        self.index = (self.index + 1) % len(self.bank)
        return self.bank[self.index]


def raw_mujoco(names: list[str], num_envs: int) -> Contender:
    """N MjData of the set-up's models, stepped as gymnasium's MujocoEnv steps one."""
    robots = [get_robot(names[i % len(names)]) for i in range(num_envs)]
    datas = [mujoco.MjData(robot.model) for robot in robots]
    for robot, data in zip(robots, datas):
        mujoco.mj_forward(robot.model, data)
    banks = [RandomActions(1, robot.model.nu, *robot.model.actuator_ctrlrange.T, seed=i)
             for i, robot in enumerate(robots)]
    work = [(robot, robot.model, data, robot.frame_skip, bank, robot.task.healthy_z)
            for robot, data, bank in zip(robots, datas, banks)]

    def step() -> None:
        for robot, model, data, frame_skip, bank, (low, high) in work:
            data.ctrl[:] = bank.next()[0]
            mujoco.mj_step(model, data, nstep=frame_skip)
            mujoco.mj_rnePostConstraint(model, data)
            if not low < robot.torso_height(data.qpos) < high:
                mujoco.mj_resetData(model, data)
    return Contender(step, num_envs)


class PerStateBuilder:
    """An older ``ObservationBuilder`` (one state per call) behind today's batch interface."""

    def __init__(self, builder: object):
        self.builder = builder

    def __call__(self, qpos: np.ndarray, qvel: np.ndarray,
                 ctrl: np.ndarray | None = None) -> np.ndarray:
        """One state's observation, as the older builder makes it."""
        return self.builder(qpos, qvel, ctrl)

    def batch(self, qpos: np.ndarray, qvel: np.ndarray,
              ctrl: np.ndarray | None = None) -> np.ndarray:
        """Observations [N, size]: the older builder called state by state."""
        rows = [None] * len(qpos) if ctrl is None else ctrl
        return np.array([self.builder(q, v, c) for q, v, c in zip(qpos, qvel, rows)])


def vec_env(names: list[str], num_envs: int, obs_mode: str,
            observation_module: object | None = None,
            vector_env_class: type = VectorEnv) -> Contender:
    """Our VectorEnv (or an older one); ``observation_module`` replaces every env's builder."""
    env = vector_env_class(names, num_envs, obs_mode)
    if observation_module is not None:
        for single in env.envs:
            single.observe = PerStateBuilder(
                observation_module.ObservationBuilder(single.robot, obs_mode))
    env.reset(seed=0)
    actions = RandomActions(num_envs, env.act_dim)
    return Contender(lambda: env.step(actions.next()), num_envs, close=env.close)


def gym_vector(env_id: str, num_envs: int, asynchronous: bool) -> Contender:
    """gymnasium's SyncVectorEnv or AsyncVectorEnv of ``num_envs`` × ``env_id``."""
    makers = [lambda: gymnasium.make(env_id)] * num_envs
    if asynchronous:
        parent_cores = os.sched_getaffinity(0)
        os.sched_setaffinity(0, range(min(2, os.cpu_count() or 1)))  # workers: both cores
        try:
            env = gymnasium.vector.AsyncVectorEnv(makers, shared_memory=True, context='fork')
        finally:
            os.sched_setaffinity(0, parent_cores)
        pids = [process.pid for process in env.processes]
    else:
        env, pids = gymnasium.vector.SyncVectorEnv(makers), []
    env.reset(seed=0)
    space = env.single_action_space
    actions = RandomActions(num_envs, space.shape[0], space.low, space.high)
    return Contender(lambda: env.step(actions.next()), num_envs, pids, close=env.close)


def load_observation_module(path: Path) -> object:
    """Import an ``observation.py`` from a file (older code, for a side-by-side figure)."""
    spec = importlib.util.spec_from_file_location('baseline_observation', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_baseline_package(rev: str, into: Path) -> object:
    """The package ``synergy_control`` of commit ``rev``, extracted and renamed.

    ``git archive`` writes the commit's ``synergy_control`` under ``into``; its absolute
    imports are renamed to ``synergy_control_baseline`` so that both versions live in one
    process and are timed side by side.
    """
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(['git', 'archive', rev, 'synergy_control'], cwd=root,
                             capture_output=True, check=True).stdout
    subprocess.run(['tar', '-x', '-C', str(into)], input=archive, check=True)
    package = into / 'synergy_control_baseline'
    (into / 'synergy_control').rename(package)
    for source in package.rglob('*.py'):
        text = source.read_text()
        source.write_text(text.replace('synergy_control.', 'synergy_control_baseline.'))
    sys.path.insert(0, str(into))
    for module in ('training.vec_env', 'envs.locomotion'):
        importlib.import_module(f'synergy_control_baseline.{module}')
    return importlib.import_module('synergy_control_baseline')


class SingleEnvStepper:
    """One ``LocomotionEnv`` stepped with a fixed action bank, reset when an episode ends."""

    def __init__(self, env_class: type, name: str, obs_mode: str):
        self.env = env_class(name, obs_mode)
        self.env.reset(seed=0)
        self.actions = RandomActions(1, self.env.action_space.shape[0])

    def cpu_per_step(self, steps: int) -> list[float]:
        """CPU seconds of each of ``steps`` calls of ``step`` (resets not counted)."""
        env, spent = self.env, []
        for _ in range(steps):
            action = self.actions.next()[0]
            start = time.process_time()
            ended = env.step(action)[2:4]
            spent.append(time.process_time() - start)
            if any(ended):
                env.reset()
        return spent


def single_env_ab(baseline: object, rounds: int, steps: int) -> dict:
    """µs per ``LocomotionEnv.step`` of this checkout and of the baseline, interleaved.

    Both envs take the same actions from the same start, so their k-th steps start from one
    state: the figure is the median over k of the k-th steps' CPU-time ratio (a step that the
    scheduler interrupted, and the caches it left cold, is an outlier of that distribution).
    """
    table = {}
    for setup, (name, obs_mode) in SINGLE_SETUPS.items():
        steppers = {'current': SingleEnvStepper(LocomotionEnv, name, obs_mode),
                    'baseline': SingleEnvStepper(baseline.envs.locomotion.LocomotionEnv,
                                                 name, obs_mode)}
        for stepper in steppers.values():
            stepper.cpu_per_step(steps)  # warm
        per_step: dict[str, list[float]] = {'current': [], 'baseline': []}
        for round_index in range(rounds):
            order = list(steppers) if round_index % 2 == 0 else list(steppers)[::-1]
            for key in order:
                per_step[key].extend(steppers[key].cpu_per_step(steps))
            current_qpos, baseline_qpos = (steppers[key].env.data.qpos for key in steppers)
            if not np.array_equal(current_qpos, baseline_qpos):  # the pairing needs it
                raise RuntimeError(f'{name}: the two envs left the same states in round '
                                   f'{round_index}: the steps are not bit-equal')
        current, base = (np.array(per_step[key]) * 1e6 for key in ('current', 'baseline'))
        ratios = current / base
        table[setup] = {'env': name, 'obs_mode': obs_mode, 'steps': len(current),
                        'current_median_us': float(np.median(current)),
                        'baseline_median_us': float(np.median(base)),
                        'current_mean_us': float(current.mean()),
                        'baseline_mean_us': float(base.mean()),
                        'ratio_median_paired': float(np.median(ratios)),
                        'ratio_quartiles_paired': np.percentile(ratios, [25, 75]).tolist()}
        print(f'{setup:9s} per step: current median {np.median(current):.1f} µs '
              f'(mean {current.mean():.1f}), baseline {np.median(base):.1f} µs '
              f'(mean {base.mean():.1f}); paired ratio median {np.median(ratios):.3f} '
              f'(quartiles {np.percentile(ratios, 25):.3f}-{np.percentile(ratios, 75):.3f})',
              flush=True)
    return table


def contenders_of(setup: str, num_envs: int, baseline: object | None,
                  baseline_vec_env: type | None = None) -> dict[str, Callable]:
    """Makers of every contender of a set-up at N envs."""
    names, obs_mode, gym_id = SETUPS[setup]
    makers: dict[str, Callable[[], Contender]] = {
        'raw_mujoco': lambda: raw_mujoco(names, num_envs),
        'vec_env': lambda: vec_env(names, num_envs, obs_mode)}
    if baseline_vec_env is not None:
        makers['vec_env_baseline'] = lambda: vec_env(names, num_envs, obs_mode,
                                                     vector_env_class=baseline_vec_env)
    if baseline is not None and obs_mode == 'modular':
        makers['vec_env_baseline_obs'] = lambda: vec_env(names, num_envs, obs_mode, baseline)
    if gym_id is not None:
        makers['gym_sync'] = lambda: gym_vector(gym_id, num_envs, asynchronous=False)
        makers['gym_async'] = lambda: gym_vector(gym_id, num_envs, asynchronous=True)
    return makers


def summarise(rounds: list[dict]) -> dict:
    """Best round by each measure, and every round."""
    return {'steps_per_s': max(r['steps_per_s'] for r in rounds),
            'steps_per_cpu_s': max(r['steps_per_cpu_s'] for r in rounds),
            'cores_used': float(np.median([r['cores_used'] for r in rounds])),
            'rounds': rounds}


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark and write benchmarks/results/vec_env_throughput.json."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=float, default=0.4,
                        help='wall time per measurement (default 0.4)')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--counts', type=int, nargs='+', default=list(COUNTS))
    parser.add_argument('--setups', nargs='+', default=list(SETUPS), choices=list(SETUPS))
    parser.add_argument('--baseline-observation', type=Path,
                        help='an older observation.py, timed beside the current one')
    parser.add_argument('--baseline-rev',
                        help='an older commit (e.g. main) whose VectorEnv is timed beside')
    parser.add_argument('--skip', nargs='*', default=[], metavar='CONTENDER',
                        help='contenders left out (e.g. gym_async: forks N workers)')
    parser.add_argument('--single-env', action='store_true',
                        help='time LocomotionEnv.step alone against --baseline-rev\'s')
    parser.add_argument('--single-rounds', type=int, default=40,
                        help='interleaved rounds with --single-env (default 40)')
    parser.add_argument('--single-steps', type=int, default=100,
                        help='steps per round and env with --single-env (default 100)')
    parser.add_argument('--output', type=Path,
                        help='default results/vec_env_throughput.json '
                             '(results/single_env_step.json with --single-env)')
    args = parser.parse_args(argv)
    baseline = (load_observation_module(args.baseline_observation)
                if args.baseline_observation else None)
    baseline_dir = tempfile.TemporaryDirectory() if args.baseline_rev else None
    baseline_package = (load_baseline_package(args.baseline_rev, Path(baseline_dir.name))
                        if baseline_dir else None)
    baseline_vec_env = baseline_package.training.vec_env.VectorEnv if baseline_package else None
    command = ' '.join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    load_before = subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()
    started = time.perf_counter()
    if args.single_env:
        if baseline_package is None:
            parser.error('--single-env compares against --baseline-rev REV: give it')
        result = {'command': command, 'load_before': load_before,
                  'results': single_env_ab(baseline_package, args.single_rounds,
                                           args.single_steps)}
        return write_result(result, args.output or RESULTS / 'single_env_step.json', started)
    measured: dict[str, dict[int, dict[str, list[dict]]]] = {}
    kept: dict[tuple[str, int, str], Contender] = {}  # in-process ones live across rounds
    for round_index in range(args.rounds):
        for setup in args.setups:
            for num_envs in args.counts:
                makers = contenders_of(setup, num_envs, baseline, baseline_vec_env)
                for name, make in makers.items():
                    if name in args.skip:
                        continue
                    # worker processes are made for each measurement and closed after it
                    key = (setup, num_envs, name)
                    contender = kept.get(key) or make()
                    try:
                        result = contender.measure(args.seconds)
                    finally:
                        if contender.worker_pids or round_index == args.rounds - 1:
                            contender.close()
                        else:
                            kept[key] = contender
                    measured.setdefault(setup, {}).setdefault(num_envs, {}).setdefault(
                        name, []).append(result)
                    print(f'round {round_index} {setup:9s} N={num_envs:2d} {name:21s} '
                          f'{result["steps_per_s"]:8.0f} steps/s  '
                          f'{result["steps_per_cpu_s"]:8.0f} per CPU-s  '
                          f'({result["cores_used"]:.2f} cores)', flush=True)
    table = {}
    for setup, by_count in measured.items():
        table[setup] = {}
        for num_envs, by_name in by_count.items():
            row = {name: summarise(rounds) for name, rounds in by_name.items()}
            raw = row['raw_mujoco']
            for name, entry in row.items():
                entry['ratio_to_raw_per_core'] = entry['steps_per_cpu_s'] / raw['steps_per_cpu_s']
                entry['ratio_to_raw_wall'] = entry['steps_per_s'] / raw['steps_per_s']
            table[setup][str(num_envs)] = row
    result = {
        'command': command,
        'load_before': load_before,
        'load_after': subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip(),
        'affinity': sorted(os.sched_getaffinity(0)),
        'elapsed_s': time.perf_counter() - started,
        'seconds_per_measurement': args.seconds, 'rounds': args.rounds,
        'per_core': 'env steps per CPU-second of the process (time.process_time) plus, for '
                    'gym_async, its worker processes (/proc/PID/schedstat); best round',
        'setups': {name: {'envs': SETUPS[name][0], 'obs_mode': SETUPS[name][1],
                          'gymnasium': SETUPS[name][2]} for name in args.setups},
        'host': host(),
        'baseline_rev': args.baseline_rev, 'skipped': args.skip,
        'results': table,
    }
    return write_result(result, args.output or RESULTS / 'vec_env_throughput.json', started)


def write_result(result: dict, output: Path, started: float) -> dict:
    """Add the host, load and elapsed time to ``result`` and write it as JSON."""
    result.setdefault('load_after', subprocess.run(['uptime'], capture_output=True,
                                                   text=True).stdout.strip())
    result.setdefault('elapsed_s', time.perf_counter() - started)
    result.setdefault('affinity', sorted(os.sched_getaffinity(0)))
    result.setdefault('host', host())
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + '\n')
    print(f'wrote {output} in {result["elapsed_s"]:.0f} s')
    return result


def host() -> dict:
    """The versions and CPU count the figures were measured with."""
    return {'cpus': os.cpu_count(), 'python': platform.python_version(),
            'machine': platform.machine(), 'mujoco': mujoco.__version__,
            'gymnasium': gymnasium.__version__, 'numpy': np.__version__}


if __name__ == '__main__':
    main()
