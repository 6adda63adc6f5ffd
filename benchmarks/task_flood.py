"""Control-loop rate of the multi-task sim graph while ``~/task`` or ``cmd_vel`` is flooded.

The sim graph (bridge + controller, realtime, the shipped HalfCheetah-Vel policy; nominal 20
commands/s) spins in this process; a flooder process publishes valid task commands at
``--rate`` messages/s for ``--seconds`` (pinned to ``--flooder-cpu`` when given, so that it
does not take the graph's core). Windows: no flood, ``~/task`` flood, ``cmd_vel`` flood, no
flood. Writes results/task_flood.json.

    taskset -c 0 .venv/bin/python benchmarks/task_flood.py --flooder-cpu 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from synergy_control.ros.environment import ensure_local_dds, run_domain_id

RESULTS = Path(__file__).parent / 'results'


def flood(mode: str, rate: float, seconds: float) -> None:
    """Publish valid commands of ``mode`` at ``rate`` per second (the flooder process)."""
    import rclpy
    from geometry_msgs.msg import Twist
    from std_msgs.msg import String

    from synergy_control.ros import qos
    rclpy.init()
    node = rclpy.create_node('flooder')
    task = mode == 'task'
    pub = node.create_publisher(String if task else Twist,
                                '/synergy_controller/task' if task else '/cmd_vel', qos.EVENTS)
    time.sleep(1.0)  # discovery
    start, sent = time.monotonic(), 0
    while time.monotonic() - start < seconds:
        if task:
            pub.publish(String(data=('vel:2', 'vel:5')[sent % 2]))
        else:
            message = Twist()
            message.linear.x = 1.0 + (sent % 80) / 10
            pub.publish(message)
        sent += 1
        while time.monotonic() - start < sent / rate:
            pass
    print(json.dumps({'sent_per_s': sent / seconds}), flush=True)
    rclpy.shutdown()


def measure(args: argparse.Namespace) -> list[dict]:
    """Run the graph through the windows; return each window's command rate."""
    import rclpy
    from rclpy.context import Context

    from synergy_control.ros.launch_plan import shipped_policies, sim_plan
    from synergy_control.ros.node_tools import make_executor
    from synergy_control.sim_runner import instantiate

    context = Context()
    rclpy.init(context=context)
    plan = [s for s in sim_plan(policy=shipped_policies()['half_cheetah'], mode='realtime',
                                publish_markers=0.0) if s.package == 'synergy_control']
    bridge, controller = [instantiate(spec, context) for spec in plan]
    executor = make_executor('events', context)
    for node in (bridge, controller):
        executor.add_node(node)

    def spin(seconds: float) -> None:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            executor.spin_once(timeout_sec=0.01)

    windows = []
    for mode in (None, 'task', 'cmd_vel', None):
        proc = None
        if mode is not None:
            pin = ['taskset', '-c', str(args.flooder_cpu)] if args.flooder_cpu is not None else []
            proc = subprocess.Popen([*pin, sys.executable, __file__, '--flood', mode, '--rate',
                                     str(args.rate), '--seconds', str(args.seconds + 2)],
                                    stdout=subprocess.PIPE, text=True)
            spin(1.5)  # the flooder's discovery
        before, start = controller.counters['commands'], time.monotonic()
        spin(args.seconds)
        rate = (controller.counters['commands'] - before) / (time.monotonic() - start)
        sent = None
        if proc is not None:
            while proc.poll() is None:
                executor.spin_once(timeout_sec=0.01)
            sent = json.loads(proc.stdout.read().strip().splitlines()[-1])['sent_per_s']
        windows.append({'flood': mode, 'commands_per_s': round(rate, 2), 'sent_per_s': sent,
                        'non_finite_outputs': controller.counters['non_finite_outputs'],
                        'task_in_use': controller.runtime.task})
        print(windows[-1], flush=True)
    rclpy.try_shutdown(context=context)
    return windows


def main() -> None:
    """Measure (or, with --flood, be the flooder) and write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rate', type=float, default=2000.0)
    parser.add_argument('--seconds', type=float, default=5.0)
    parser.add_argument('--flooder-cpu', type=int)
    parser.add_argument('--flood', choices=['task', 'cmd_vel'], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flood:
        flood(args.flood, args.rate, args.seconds)
        return
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ['ROS_DOMAIN_ID'] = str(run_domain_id())
    ensure_local_dds()
    result = {'command': ' '.join(['python', 'benchmarks/task_flood.py', *sys.argv[1:]]),
              'load_average': os.getloadavg(), 'nominal_commands_per_s': 20.0,
              'windows': measure(args)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / 'task_flood.json').write_text(json.dumps(result, indent=2) + '\n')


if __name__ == '__main__':
    main()
