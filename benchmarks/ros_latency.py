"""Closed-loop state -> command latency over loopback DDS, and missed control ticks.

Two set-ups, measured side by side in one run, each at every rate and ``--repeats`` times:

``separate``
    A stand-in robot driver (this process) publishes /joint_states and /odom at the rate, as
    ros2_control's joint_state_broadcaster would; synergy_controller runs in its own process
    (``python -m synergy_control.ros.synergy_controller``) in lockstep mode, so it answers
    every state as soon as it arrives. The latency of a command is its arrival time minus the
    sending time of the newest state sent before the controller published it (DDS source and
    reception timestamps; one host, one system clock). A tick is missed when the driver did
    not send its state on time or no command answering the state arrived before the next one
    was sent.
``sim``
    ``synergy-control sim`` (sim_bridge and synergy_controller in one process, realtime
    mode) in a process of its own, paced so that the bridge publishes states at the rate
    (realtime factor = rate x control period). The bridge measures the same latency: from
    publishing a state to receiving the command that names it (the command's stamp); a tick
    is missed when no answer came before the next state.

The spread over the repeats (min, median, max of each figure) is reported per set-up and
rate. Each measurement runs in its own ROS domain, so the set-ups cannot hear each other.
``--priority N`` runs every process of the loop (driver, controller, sim) under SCHED_FIFO at
priority N, as a real-time robot computer runs its control loop (``chrt --fifo N ros2 run
...``); it needs CAP_SYS_NICE.

    .venv/bin/python benchmarks/ros_latency.py --seconds 60
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from synergy_control.envs import LocomotionEnv
from synergy_control.export import export_untrained
from synergy_control.ros.environment import ensure_local_dds, run_domain_id
from synergy_control.ros.launch_plan import default_policy
from synergy_control.ros.topics import DEFAULT_COMMAND_TOPIC

RESULTS = Path(__file__).resolve().parent / 'results'
SETUPS = ('separate', 'sim')


def _policy(robot: str, folder: Path, name: str | None) -> Path:
    """Return the policy given, else the package default, else an untrained one."""
    if name:
        return Path(name)
    try:
        return default_policy()
    except FileNotFoundError:
        path = folder / f'{robot}_untrained.onnx'
        export_untrained(robot, path)
        return path


def _measure(rate: float, seconds: float, env: LocomotionEnv) -> dict:
    """Drive the controller at ``rate`` for ``seconds``; latency and missed-tick statistics."""
    from nav_msgs.msg import Odometry
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    from synergy_control.ros import qos
    from synergy_control.ros.conversions import joint_state_msg, odometry_msg, stamp_from_ns
    from synergy_control.ros.node_tools import percentiles, steady_clock

    node = Node('latency_driver')
    joint_pub = node.create_publisher(JointState, '/joint_states', qos.STATE_PUBLISHER)
    odom_pub = node.create_publisher(Odometry, '/odom', qos.STATE_PUBLISHER)
    sent_ns: list[int] = []
    answers: list[tuple[int, int]] = []  # (command sent, command received by DDS), ns

    def on_command(_msg: Float64MultiArray, info) -> None:
        answers.append((info['source_timestamp'], info['received_timestamp']))

    node.create_subscription(Float64MultiArray, DEFAULT_COMMAND_TOPIC, on_command, qos.COMMAND)
    joints = joint_state_msg(env.robot, env.data, stamp_from_ns(0))
    odom = odometry_msg(env.robot, env.data.qpos, env.data.qvel, stamp_from_ns(0))
    period_ns = round(1e9 / rate)

    def tick() -> None:
        joints.header.stamp = odom.header.stamp = stamp_from_ns((len(sent_ns) + 1) * period_ns)
        sent_ns.append(time.time_ns())
        odom_pub.publish(odom)
        joint_pub.publish(joints)

    executor = SingleThreadedExecutor()
    executor.add_node(node)
    deadline = time.monotonic() + 30.0
    while joint_pub.get_subscription_count() == 0 or \
            node.count_publishers(DEFAULT_COMMAND_TOPIC) == 0:
        executor.spin_once(timeout_sec=0.05)
        if time.monotonic() > deadline:
            raise RuntimeError('synergy_controller did not subscribe within 30 s')
    warmup = time.monotonic() + 1.0  # let the controller see a few states before measuring
    timer = node.create_timer(1.0 / rate, tick, clock=steady_clock())
    while time.monotonic() < warmup:
        executor.spin_once(timeout_sec=0.01)
    del sent_ns[:], answers[:]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=0.01)
    node.destroy_timer(timer)
    drain = time.monotonic() + 0.2
    while time.monotonic() < drain:
        executor.spin_once(timeout_sec=0.01)
    executor.shutdown()
    node.destroy_node()

    latencies, answered = [], set()
    for source, arrival in answers:
        index = bisect.bisect_right(sent_ns, source) - 1
        if index >= 0 and index not in answered:
            answered.add(index)
            due = sent_ns[index + 1] if index + 1 < len(sent_ns) else sent_ns[index] + period_ns
            if arrival <= due:
                latencies.append((arrival - sent_ns[index]) * 1e-6)
    gaps = np.diff(np.asarray(sent_ns)) * 1e-6
    p50, p99, p999 = percentiles(latencies, (50, 99, 99.9))
    expected = int(seconds * rate)
    return {'rate_hz': rate, 'seconds': seconds, 'expected_ticks': expected,
            'states_sent': len(sent_ns), 'commands_received': len(answers),
            'answered_in_time': len(latencies),
            'missed_ticks': max(expected - len(latencies), 0),
            'missed_fraction': max(1 - len(latencies) / expected, 0.0),
            'missed_by_driver': max(expected - len(sent_ns), 0),
            'missed_by_controller': len(sent_ns) - len(latencies),
            'latency_ms': {'p50': p50, 'p99': p99, 'p99.9': p999,
                           'max': max(latencies, default=float('nan'))},
            'driver_period_ms': {'mean': float(gaps.mean()) if gaps.size else None,
                                 'p99': percentiles(gaps, (99,))[0],
                                 'late_over_half_period': int(np.sum(gaps > 1.5e3 / rate))}}


def _measure_sim(rate: float, seconds: float, robot: str, policy: Path, domain: int,
                 prefix: list[str]) -> dict:
    """Run ``sim`` in its own process and domain at ``rate``; the bridge's figures."""
    period = LocomotionEnv(robot).robot.control_period
    factor = rate * period
    code = ('import json, sys; from synergy_control.sim_runner import run_sim; '
            'print(json.dumps(run_sim(sys.argv[1], sys.argv[2], mode="realtime", '
            'duration=float(sys.argv[3]), realtime_factor=float(sys.argv[4]), '
            'status=False, json_output=None)))')
    env = {**os.environ, 'ROS_DOMAIN_ID': str(domain)}
    done = subprocess.run([*prefix, sys.executable, '-c', code, robot, str(policy),
                           repr(seconds * factor), repr(factor)],
                          env=env, capture_output=True, text=True, check=True)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    bridge, controller = summary['bridge'], summary['controller']
    answered, late = bridge['answered_states'], bridge['late_periods']
    missed = late + bridge['unanswered_states']
    return {'rate_hz': rate, 'seconds': seconds, 'realtime_factor': factor,
            'expected_ticks': answered + missed, 'states_answered': answered,
            'missed_ticks': missed, 'missed_fraction': missed / max(answered + missed, 1),
            'missed_by_driver': late, 'missed_by_controller': bridge['unanswered_states'],
            'latency_ms': {'p50': bridge['answer_latency_ms_p50'],
                           'p99': bridge['answer_latency_ms_p99']},
            'policy_step_ms': {'p50': controller['compute_ms_p50'],
                               'p99': controller['compute_ms_p99']},
            'real_time_factor': summary['real_time_factor'],
            'faults': summary['faults']}


def _spread(values: list[float]) -> dict:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    if not finite:
        return {'min': None, 'median': None, 'max': None}
    return {'min': min(finite), 'median': statistics.median(finite), 'max': max(finite)}


def _summarise(runs: list[dict]) -> list[dict]:
    """Spread of p50, p99 and misses over the repeats, per set-up and rate."""
    table = []
    for setup in SETUPS:
        for rate in sorted({r['rate_hz'] for r in runs if r['setup'] == setup}):
            same = [r for r in runs if r['setup'] == setup and r['rate_hz'] == rate]
            table.append({
                'setup': setup, 'rate_hz': rate, 'repeats': len(same),
                'latency_p50_ms': _spread([r['latency_ms']['p50'] for r in same]),
                'latency_p99_ms': _spread([r['latency_ms']['p99'] for r in same]),
                'missed_ticks': _spread([r['missed_ticks'] for r in same]),
                'missed_by_controller': _spread([r['missed_by_controller'] for r in same])})
    return table


def main() -> None:
    """Run the benchmark and write benchmarks/results/ros_latency.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=60.0, help='per rate and set-up')
    parser.add_argument('--rates', type=float, nargs='+', default=[125.0, 500.0])
    parser.add_argument('--repeats', type=int, default=3, help='runs of every measurement')
    parser.add_argument('--setups', nargs='+', choices=SETUPS, default=list(SETUPS))
    parser.add_argument('--robot', default='walker_7_main')
    parser.add_argument('--policy', help='ONNX policy (default: package default or untrained)')
    parser.add_argument('--output', type=Path, default=RESULTS / 'ros_latency.json')
    parser.add_argument('--priority', type=int, default=0,
                        help='run the controller and sim processes under SCHED_FIFO at this '
                             'priority (chrt; needs CAP_SYS_NICE), as a real-time robot '
                             'computer would; 0: the default scheduler')
    args = parser.parse_args()
    prefix = ['chrt', '--fifo', str(args.priority)] if args.priority else []
    if args.priority:  # the driver too (ros2_control runs FIFO); threads inherit it
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(args.priority))
    environment = ensure_local_dds(run_domain_id())
    sim_domain = int(environment['ROS_DOMAIN_ID']) % 100 + 1  # never the driver's domain
    import rclpy

    env = LocomotionEnv(args.robot)
    env.reset(seed=0)
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        policy = _policy(args.robot, Path(folder), args.policy)
        controller = None
        if 'separate' in args.setups:
            controller = subprocess.Popen(
                [*prefix, sys.executable, '-m', 'synergy_control.ros.synergy_controller',
                 '--ros-args', '-p', f'policy:={policy}', '-p', f'robot:={args.robot}', '-p',
                 'mode:=lockstep', '-p', 'watchdog_timeout:=10.0', '--log-level', 'warn'],
                env=dict(os.environ))
            rclpy.init()
        try:
            for repeat in range(args.repeats):
                for rate in args.rates:
                    if 'separate' in args.setups:
                        runs.append({'setup': 'separate', 'repeat': repeat,
                                     **_measure(rate, args.seconds, env)})
                    if 'sim' in args.setups:
                        runs.append({'setup': 'sim', 'repeat': repeat,
                                     **_measure_sim(rate, args.seconds, args.robot, policy,
                                                    sim_domain, prefix)})
                    print(f'repeat {repeat + 1}/{args.repeats}: {rate:g} Hz measured',
                          file=sys.stderr)
        finally:
            if controller is not None:
                rclpy.try_shutdown()
                controller.terminate()
                controller.wait(timeout=10)
    command = ' '.join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    summary = _summarise(runs)
    result = {'benchmark': 'ros_latency', 'command': command, 'robot': args.robot,
              'policy': str(policy), 'scheduler': ' '.join(prefix) or 'default',
              'setups': {'separate': 'controller in its own process (spin_main: events '
                                     'executor), lockstep mode, driven by this process',
                         'sim': 'sim_runner (bridge + controller in one process, events '
                                'executor), realtime mode, in a process of its own'},
              'dds': environment, 'host': {'cpus': os.cpu_count(),
                                           'python': platform.python_version()},
              'summary': summary, 'runs': runs}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + '\n')
    print(command)
    for row in summary:
        p50, p99 = row['latency_p50_ms'], row['latency_p99_ms']
        missed, by_controller = row['missed_ticks'], row['missed_by_controller']
        print(f"{row['setup']:>8} {row['rate_hz']:5.0f} Hz x{row['repeats']}: latency p50 "
              f"{p50['median']:.3f} ms [{p50['min']:.3f}, {p50['max']:.3f}], p99 "
              f"{p99['median']:.3f} ms [{p99['min']:.3f}, {p99['max']:.3f}]; missed ticks "
              f"{missed['median']:g} [{missed['min']:g}, {missed['max']:g}] (controller "
              f"{by_controller['median']:g} [{by_controller['min']:g}, {by_controller['max']:g}])")
    print(f'wrote {args.output}')


if __name__ == '__main__':
    main()
