"""Labelling time of distillation's teachers per vector step: one ORT call per env or per robot.

``Teachers.actions`` labels every env of a ``VectorEnv`` with its robot's exported expert.
This times, on the same states, side by side in one process:

``per_env``
    the labelling before issue 20's batching: ``PolicyRuntime.act`` once per env (one ONNX
    Runtime call each), on runtimes of one state a call (batch fixed to 1);
``per_robot``
    ``Teachers.actions``: each robot's envs stacked, one ``act_batch`` call per robot.

Each round steps the envs with the labels plus N(0, 0.3²) noise (the states a distillation
visits), then times both labellings of that state, which one goes first alternating; the labels
are compared every round (the largest difference is reported: 0 where the experts' kernels sum
a batch's rows as they sum one). The vector step itself is timed beside them. Figures are
medians over rounds of the wall and CPU (``time.process_time``) milliseconds and of the
per-round ratio per_env / per_robot. The teachers default to ``distill.teachers`` of
``config/train/walker_solar_distill_state.yaml`` (the Walker++ experts); ``--teachers`` takes
any exported experts (their cards name the robots, e.g. the Humanoid2D++ ones).

``--act-baseline-rev REV`` also times ``PolicyRuntime.act`` alone (the policy node's call,
one state) of this checkout against REV's ``synergy_control/runtime.py`` (``git show``, loaded
as a module beside this package), interleaved on the same states (which goes first alternating),
CPU time (``time.thread_time_ns``) per pass over the states: what the batched path costs the
control loop; the median per-round ratio is the figure.

    nice -n 19 python benchmarks/teacher_labels.py --rounds 200 --act-baseline-rev main
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from synergy_control.runtime import PolicyRuntime, read_card
from synergy_control.training.config import load_config
from synergy_control.training.distill import Teachers
from synergy_control.training.vec_env import VectorEnv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from result_files import write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / 'config' / 'train' / 'walker_solar_distill_state.yaml'
NOISE = 0.3
ACT_POLICIES = (('models/td3/walker_td3.onnx', 'walker_7_main', 'flat'),
                ('models/ppo/humanoid_ppo.onnx', 'humanoid', 'flat'),
                ('models/walker_solar.onnx', 'walker_4_main', 'modular'))


def per_env_labels(runtimes: list[PolicyRuntime], envs: VectorEnv) -> np.ndarray:
    """The labels as they were made before the batching: one ``act`` per env."""
    labels = np.zeros((envs.num_envs, envs.act_dim), np.float32)
    for i, env in enumerate(envs.envs):
        action = runtimes[envs.entry[i]].act(env.data.qpos, env.data.qvel, env.data.ctrl).action
        labels[i, :action.shape[0]] = action
    return labels


def timed(call) -> tuple[object, float, float]:
    """Return ``call()``'s value, its wall and CPU milliseconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = call()
    return value, (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3


def label_rounds(paths: list[str], num_envs: int, obs_mode: str, rounds: int) -> dict:
    """Time both labellings and the vector step on ``rounds`` states; medians and the worst Δ."""
    names = [read_card(path).robot for path in paths]
    teachers = Teachers(paths, names)
    single = [PolicyRuntime(path) for path in paths]  # one state a call, as before
    envs = VectorEnv(names, num_envs, obs_mode)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    times = {name: {'wall': [], 'cpu': []} for name in ('per_env', 'per_robot', 'vector_step')}
    largest_difference = 0.0
    for round_index in range(rounds):
        contenders = [('per_env', lambda: per_env_labels(single, envs)),
                      ('per_robot', lambda: teachers.actions(envs))]
        labels = {}
        for name, call in contenders[::1 if round_index % 2 == 0 else -1]:
            labels[name], wall, cpu = timed(call)
            times[name]['wall'].append(wall)
            times[name]['cpu'].append(cpu)
        largest_difference = max(largest_difference, float(np.abs(
            labels['per_env'] - labels['per_robot']).max()))
        noisy = np.clip(labels['per_robot'] + NOISE * rng.standard_normal(
            labels['per_robot'].shape), -1.0, 1.0).astype(np.float32)
        _, wall, cpu = timed(lambda: envs.step(noisy))
        times['vector_step']['wall'].append(wall)
        times['vector_step']['cpu'].append(cpu)
    envs.close()
    summary = {'robots': names, 'teachers': paths, 'num_envs': num_envs, 'obs_mode': obs_mode,
               'rounds': rounds, 'max_abs_label_difference': largest_difference}
    for name, clocks in times.items():
        for clock, values in clocks.items():
            summary[f'{name}_{clock}_ms_median'] = float(np.median(values))
    for clock in ('wall', 'cpu'):
        ratios = np.divide(times['per_env'][clock], times['per_robot'][clock])
        summary[f'ratio_per_env_over_per_robot_{clock}_median'] = float(np.median(ratios))
    return summary


def baseline_runtime_module(rev: str):
    """REV's ``synergy_control/runtime.py`` as a module of its own (it imports this package)."""
    source = subprocess.run(['git', 'show', f'{rev}:synergy_control/runtime.py'], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / 'runtime_baseline.py'
    path.write_text(source)
    spec = importlib.util.spec_from_file_location('runtime_baseline', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def act_rounds(rev: str, rounds: int, calls: int) -> list[dict]:
    """CPU µs per ``act`` on one state: this checkout's runtime against REV's, interleaved."""
    from synergy_control.envs import make_env
    baseline = baseline_runtime_module(rev)
    rows = []
    for path, robot, obs_mode in ACT_POLICIES:
        runtimes = {'this': PolicyRuntime(path, robot),
                    'baseline': baseline.PolicyRuntime(path, robot)}
        env = make_env(robot, obs_mode=obs_mode)
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        states = []
        for _ in range(calls):
            states.append((env.data.qpos.copy(), env.data.qvel.copy(), env.data.ctrl.copy()))
            if env.step(rng.uniform(-1.0, 1.0, env.action_space.shape))[2]:
                env.reset()
        for qpos, qvel, ctrl in states:  # the same commands: the change is in code, not values
            if not np.array_equal(runtimes['this'].act(qpos, qvel, ctrl).commands,
                                  runtimes['baseline'].act(qpos, qvel, ctrl).commands):
                raise RuntimeError(f'{path}: act differs from {rev} on a state')
        per_call = {name: [] for name in runtimes}  # CPU µs per call, one pass per round
        for round_index in range(rounds):
            order = list(runtimes) if round_index % 2 == 0 else list(runtimes)[::-1]
            for name in order:
                act = runtimes[name].act
                start = time.thread_time_ns()
                for qpos, qvel, ctrl in states:
                    act(qpos, qvel, ctrl)
                per_call[name].append((time.thread_time_ns() - start) / len(states) / 1e3)
        ratios = np.divide(per_call['this'], per_call['baseline'])
        rows.append({'policy': path, 'robot': robot,
                     'this_cpu_us_median': float(np.median(per_call['this'])),
                     f'{rev}_cpu_us_median': float(np.median(per_call['baseline'])),
                     'this_cpu_us_min': float(np.min(per_call['this'])),
                     f'{rev}_cpu_us_min': float(np.min(per_call['baseline'])),
                     'ratio_this_over_baseline_median': float(np.median(ratios))})
    return rows


def main() -> None:
    """Parse the options, run both measurements, print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--teachers', nargs='+', default=None,
                        help='exported experts, one per robot (default: the Walker++ config)')
    parser.add_argument('--num-envs', type=int, default=64)
    parser.add_argument('--obs-mode', default='modular', help="the student's observation")
    parser.add_argument('--rounds', type=int, default=200)
    parser.add_argument('--act-baseline-rev', default=None)
    parser.add_argument('--act-rounds', type=int, default=10)
    parser.add_argument('--act-calls', type=int, default=300)
    parser.add_argument('--out', type=Path, default=ROOT / 'benchmarks' / 'results'
                        / 'teacher_labels')
    args = parser.parse_args()
    paths = args.teachers or list(load_config(DEFAULT_CONFIG).distill.teachers)
    load_before = os.getloadavg()[0]
    summary = label_rounds(paths, args.num_envs, args.obs_mode, args.rounds)
    summary['command'] = ' '.join(sys.argv)
    if args.act_baseline_rev:
        summary['act'] = act_rounds(args.act_baseline_rev, args.act_rounds, args.act_calls)
    summary['load_average_before_after'] = [load_before, os.getloadavg()[0]]
    for key, value in summary.items():
        print(f'{key}: {value}')
    write_results(args.out, [{k: v for k, v in summary.items() if not isinstance(v, list)}],
                  summary)


if __name__ == '__main__':
    main()
