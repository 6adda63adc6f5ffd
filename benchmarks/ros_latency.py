"""Closed-loop state -> command latency over loopback DDS, and missed control ticks.

A stand-in robot driver (this process) publishes /joint_states and /odom at 125 Hz and at
500 Hz, as ros2_control's joint_state_broadcaster would; synergy_controller runs in its own
process (``python -m synergy_control.ros.synergy_controller``) in lockstep mode, so it answers
every state as soon as it arrives. The latency of a command is its arrival time minus the
sending time of the newest state sent before the controller published it (DDS source and
reception timestamps; one host, one system clock). A tick is missed when the driver did not
send its state on time or no command answering the state arrived before the next one was
sent.

    .venv/bin/python benchmarks/ros_latency.py --seconds 60
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from synergy_control.envs import LocomotionEnv
from synergy_control.export import export_untrained
from synergy_control.launch_plan import DEFAULT_COMMAND_TOPIC, default_policy
from synergy_control.ros.environment import ensure_local_dds, run_domain_id

RESULTS = Path(__file__).resolve().parent / 'results'


def _policy(robot: str, folder: Path, name: str | None) -> Path:
    """The policy given, else the package default, else an untrained one for ``robot``."""
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


def main() -> None:
    """Run the benchmark and write benchmarks/results/ros_latency.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=60.0, help='per rate')
    parser.add_argument('--rates', type=float, nargs='+', default=[125.0, 500.0])
    parser.add_argument('--robot', default='walker_7_main')
    parser.add_argument('--policy', help='ONNX policy (default: package default or untrained)')
    parser.add_argument('--output', type=Path, default=RESULTS / 'ros_latency.json')
    args = parser.parse_args()
    environment = ensure_local_dds(run_domain_id())
    import rclpy

    env = LocomotionEnv(args.robot)
    env.reset(seed=0)
    with tempfile.TemporaryDirectory() as folder:
        policy = _policy(args.robot, Path(folder), args.policy)
        controller = subprocess.Popen(
            [sys.executable, '-m', 'synergy_control.ros.synergy_controller', '--ros-args',
             '-p', f'policy:={policy}', '-p', f'robot:={args.robot}', '-p', 'mode:=lockstep',
             '-p', 'watchdog_timeout:=10.0', '--log-level', 'warn'], env=dict(os.environ))
        rclpy.init()
        try:
            runs = [_measure(rate, args.seconds, env) for rate in args.rates]
        finally:
            rclpy.try_shutdown()
            controller.terminate()
            controller.wait(timeout=10)
    command = ' '.join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    result = {'benchmark': 'ros_latency', 'command': command, 'robot': args.robot,
              'policy': str(policy),
              'controller': 'separate process (spin_main: events executor), lockstep mode',
              'dds': environment, 'host': {'cpus': os.cpu_count(),
                                           'python': platform.python_version()},
              'runs': runs}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + '\n')
    print(command)
    for run in runs:
        latency = run['latency_ms']
        print(f"{run['rate_hz']:5.0f} Hz: latency p50 {latency['p50']:.3f} ms, p99 "
              f"{latency['p99']:.3f} ms; missed {run['missed_ticks']}/{run['expected_ticks']} "
              f"ticks ({run['missed_fraction']:.2%}: driver {run['missed_by_driver']}, "
              f"controller {run['missed_by_controller']})")
    print(f'wrote {args.output}')


if __name__ == '__main__':
    main()
