"""Lockstep throughput of the ROS loop, against real time and against raw MuJoCo stepping.

Three rates for one robot, in control steps per second:

raw MuJoCo
    ``mj_step(model, data, nstep=frame_skip)`` with zero controls: the ceiling.
offline rollout
    ``PolicyRuntime.act`` + ``LocomotionEnv.step_command`` through
    :func:`~synergy_control.rollout.rollout_steps`: the same work without ROS.
ROS lockstep
    ``run_sim(mode='lockstep')``: sim_bridge + synergy_controller in one process over
    loopback DDS, one state and one command per step (what ``synergy-control sim`` runs),
    once on each executor of :data:`~synergy_control.ros.launch_plan.EXECUTORS`.

    .venv/bin/python benchmarks/lockstep_throughput.py --sim-seconds 40
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import mujoco
import numpy as np

from synergy_control.envs import LocomotionEnv
from synergy_control.evaluation import runtime_policy
from synergy_control.export import export_untrained
from synergy_control.robots import get_robot
from synergy_control.rollout import rollout_steps
from synergy_control.ros.launch_plan import EXECUTORS, default_policy
from synergy_control.runtime import PolicyRuntime
from synergy_control.sim_runner import run_sim

RESULTS = Path(__file__).resolve().parent / 'results'


def raw_mujoco_rate(robot: str, steps: int) -> float:
    """Control steps per second of bare mj_step (frame_skip physics steps each)."""
    variant = get_robot(robot)
    data = mujoco.MjData(variant.model)
    started = time.perf_counter()
    for _ in range(steps):
        mujoco.mj_step(variant.model, data, nstep=variant.frame_skip)
    return steps / (time.perf_counter() - started)


def offline_rate(policy: Path, robot: str, steps: int) -> float:
    """Control steps per second of the runtime + environment loop (episodes auto-reset)."""
    runtime = PolicyRuntime(policy, robot)
    env = LocomotionEnv(runtime.robot)
    started = time.perf_counter()
    rollout_steps(env, runtime_policy(runtime, env), steps, seed=0, commands=True)
    return steps / (time.perf_counter() - started)


def main() -> None:
    """Run the benchmark and write benchmarks/results/lockstep_throughput.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--robot', default='walker_7_main')
    parser.add_argument('--policy', help='ONNX policy (default: package default or untrained)')
    parser.add_argument('--sim-seconds', type=float, default=40.0,
                        help='simulated seconds of the ROS lockstep run')
    parser.add_argument('--output', type=Path, default=RESULTS / 'lockstep_throughput.json')
    args = parser.parse_args()
    control_period = get_robot(args.robot).control_period
    steps = round(args.sim_seconds / control_period)

    with tempfile.TemporaryDirectory() as folder:
        if args.policy:
            policy = Path(args.policy)
        else:
            try:
                policy = default_policy()
            except FileNotFoundError:
                policy = Path(folder) / f'{args.robot}_untrained.onnx'
                export_untrained(args.robot, policy)
        raw = raw_mujoco_rate(args.robot, steps)
        offline = offline_rate(policy, args.robot, steps)
        summaries = {executor: run_sim(args.robot, policy, mode='lockstep',
                                       duration=args.sim_seconds, status=False,
                                       executor=executor)
                     for executor in EXECUTORS}
    ros = {executor: s['steps'] / s['wall_time'] for executor, s in summaries.items()}
    command = ' '.join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    result = {
        'benchmark': 'lockstep_throughput', 'command': command, 'robot': args.robot,
        'policy': str(policy), 'control_period_s': control_period, 'steps': steps,
        'steps_per_second': {'raw_mujoco': raw, 'offline_rollout': offline,
                             **{f'ros_lockstep_{e}': rate for e, rate in ros.items()}},
        'ros_lockstep_x_realtime': {e: rate * control_period for e, rate in ros.items()},
        'ros_lockstep_fraction_of_raw_mujoco': {e: rate / raw for e, rate in ros.items()},
        'ros_lockstep_fraction_of_offline': {e: rate / offline for e, rate in ros.items()},
        'ros_runs': {e: {'steps': s['steps'], 'wall_time_s': s['wall_time'],
                         'episodes': len(s['episodes']),
                         'controller_ms': {k: s['controller'][k] for k in (
                             'compute_ms_p50', 'compute_ms_p99', 'latency_ms_p50',
                             'latency_ms_p99')},
                         'faults': s['faults']}
                     for e, s in summaries.items()},
        'host': {'cpus': os.cpu_count(), 'python': platform.python_version(),
                 'mujoco': mujoco.__version__, 'numpy': np.__version__},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + '\n')
    print(command)
    print(f'{args.robot}: raw MuJoCo {raw:.0f} steps/s, offline rollout {offline:.0f} steps/s')
    for executor, rate in ros.items():
        print(f'ROS lockstep ({executor} executor): {rate:.0f} steps/s = '
              f'x{rate * control_period:.2f} real time = {rate / raw:.1%} of raw MuJoCo '
              f'({rate / offline:.1%} of offline)')
    print(f'wrote {args.output}')


if __name__ == '__main__':
    main()
