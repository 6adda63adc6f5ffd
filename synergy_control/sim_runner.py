"""``synergy-control sim``: the sim launch graph in one process, with a live status line.

The nodes are built from :func:`synergy_control.ros.launch_plan.sim_plan` with the plan's
parameters, so this is the graph ``ros2 launch synergy_control sim.launch.py`` starts, minus
rviz. They talk over DDS on loopback in a domain of their own. Episode returns are read from
``/sim/episode`` (measured in the ROS loop), latencies from the controller.

rclpy is imported only after :func:`ensure_local_dds` has set the DDS environment.

The live status line rewrites itself on a terminal; written to a file or a pipe (a log, CI)
it becomes a plain line every :data:`LOG_STATUS_PERIOD` seconds. Its 'policy step' is the
controller's per-tick compute: state conversion, observation, inference and action scaling
(the inference benchmark's 'runtime step' leaves out the state conversion from messages).
"""

from __future__ import annotations

import gc
import json
import math
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from synergy_control.ros.controller_state import FAULTS
from synergy_control.ros.environment import ensure_local_dds, run_domain_id
from synergy_control.ros.launch_plan import NodeSpec, sim_plan
from synergy_control.runtime import PolicyLoadError

if TYPE_CHECKING:
    from rclpy.context import Context
    from rclpy.node import Node

STATUS_PERIOD = 0.5
#: Seconds between plain status lines when stderr is not a terminal.
LOG_STATUS_PERIOD = 5.0


def instantiate(spec: NodeSpec, context: 'Context') -> 'Node':
    """Instantiate the node class behind a plan entry, with its parameters and remappings."""
    from rclpy.parameter import Parameter

    from synergy_control.ros.sim_bridge import SimBridge
    from synergy_control.ros.synergy_controller import SynergyController

    classes = {'sim_bridge': SimBridge, 'synergy_controller': SynergyController}
    remaps = [arg for source, target in spec.remappings for arg in ('-r', f'{source}:={target}')]
    return classes[spec.executable](
        node_name=spec.name, namespace=spec.namespace, context=context,
        use_global_arguments=False,
        cli_args=['--ros-args', *remaps] if remaps else None,
        parameter_overrides=[Parameter(k, value=v) for k, v in spec.parameters.items()])


def _status_line(bridge: dict[str, str], controller: dict[str, str]) -> str:
    def value(values: dict[str, str], key: str) -> float:
        return float(values.get(key, 'nan'))
    return (f"sim {value(bridge, 'sim_time'):8.2f} s"
            f" | rtf {value(bridge, 'real_time_factor'):5.2f}"
            f" | height {value(bridge, 'torso_height'):5.2f} m"
            f" | speed {value(bridge, 'forward_velocity'):+6.2f} m/s"
            f" | ep {bridge.get('episode', '-')} return {value(bridge, 'episode_return'):9.2f}"
            f" | policy step {value(controller, 'compute_ms_p50'):6.3f} ms"
            ).replace('nan', '  -')


def _finite_or_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value


def run_sim(robot: str | None = None, policy: str | Path | None = None,
            mode: str = 'realtime', duration: float | None = None,
            realtime_factor: float = 1.0, seed: int = 0,
            json_output: str | Path | None = None, status: bool = True, *,
            episodes: int | None = None, domain_id: int | None = None,
            executor: str = 'events', task: str = '') -> dict:
    """Simulate ``robot`` driven by ``policy`` through ROS; return the run's summary.

    Stops after ``duration`` simulated seconds, after ``episodes`` finished episodes, or on
    Ctrl-C (whichever comes first; with neither limit it runs until Ctrl-C). ``json_output``
    is a file for the summary ('-': stdout). ``status`` prints a live line and the summary
    on stderr. ``executor`` is one of :data:`~synergy_control.ros.launch_plan.EXECUTORS`;
    ``task`` commands a multi-task policy (``sim_plan``).
    Raises PolicyLoadError if the controller cannot load the policy.
    """
    plan = [spec for spec in sim_plan(robot, policy, mode, realtime_factor, seed,
                                      use_sim_time=True, task=task)
            if spec.package == 'synergy_control']
    environment = ensure_local_dds(run_domain_id() if domain_id is None else domain_id)
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import ExternalShutdownException
    from rclpy.signals import SignalHandlerOptions

    from synergy_control.ros.monitor import SimMonitor
    from synergy_control.ros.node_tools import make_executor, stop_on_signals

    context = Context()
    # No rclpy signal handler: after Ctrl-C the context stays valid, so the summary and the
    # controller's final safe command still go out.
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
    nodes = []
    try:
        nodes = [instantiate(spec, context) for spec in plan]
        bridge, controller = nodes
        if controller.lifecycle_state != 'active':
            raise PolicyLoadError(f'synergy_controller did not start: {controller.last_error}')
        monitor = SimMonitor(context=context)
        nodes.append(monitor)
        spinner = make_executor(executor, context)
        for node in nodes:
            spinner.add_node(node)
        # As in spin_main: the start-up objects live as long as the run; keep them out of the
        # full collections that would otherwise stall a tick for milliseconds.
        gc.freeze()
        step_limit = None if duration is None else round(duration / bridge.robot.control_period)
        started = next_status = time.monotonic()
        steps_before = bridge.steps  # the bridge ran (paced) while the graph came up
        terminal = sys.stderr.isatty()
        interrupted = False
        try:
            with stop_on_signals(signal.SIGINT) as interrupt:
                while context.ok() and not interrupt.is_set():
                    spinner.spin_once(timeout_sec=0.05)
                    if step_limit is not None and bridge.steps >= step_limit:
                        break
                    if episodes is not None and len(monitor.episodes) >= episodes:
                        break
                    if status and time.monotonic() >= next_status and \
                            monitor.latest(': simulation'):
                        next_status = time.monotonic() + (STATUS_PERIOD if terminal
                                                          else LOG_STATUS_PERIOD)
                        line = _status_line(monitor.latest(': simulation'),
                                            monitor.latest(': control'))
                        print('\r' + line if terminal else line, end='' if terminal else '\n',
                              file=sys.stderr, flush=True)
            interrupted = interrupt.is_set()
        except (KeyboardInterrupt, ExternalShutdownException):
            interrupted = True
        wall = time.monotonic() - started
        summary = _summary(bridge, controller, monitor, wall, interrupted, environment,
                           executor, steps_before)
        spinner.shutdown()
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=context)
    _report(summary, json_output, status)
    return summary


def real_time_factor(steps: int, control_period: float, wall: float) -> float:
    """Return the simulated seconds per wall second of ``steps`` physics steps.

    Counted in steps, not in clock time: a reset advances the clock by a period (so that
    every state has a stamp of its own) but simulates nothing, and spammed resets would
    otherwise inflate the figure.
    """
    return steps * control_period / wall if wall > 0 else float('nan')


def _summary(bridge, controller, monitor, wall: float, interrupted: bool,
             environment: dict[str, str], executor: str, steps_before: int) -> dict:
    sim_time = bridge.sim_time_ns * 1e-9
    returns = [e['return'] for e in monitor.episodes]
    return {
        'robot': bridge.robot.name, 'policy': str(controller.runtime.path),
        'mode': bridge.mode, 'realtime_factor': bridge.realtime_factor, 'seed': bridge.seed,
        'domain_id': int(environment.get('ROS_DOMAIN_ID', 0)), 'executor': executor,
        'steps': bridge.steps, 'sim_time': sim_time, 'wall_time': wall,
        'real_time_factor': real_time_factor(bridge.steps - steps_before,
                                             bridge.robot.control_period, wall),
        'episodes': monitor.episodes,
        'mean_return': sum(returns) / len(returns) if returns else float('nan'),
        'current_episode': {'episode': bridge.episode, 'return': bridge.episode_return,
                            'length': bridge.episode_length},
        'controller': controller.statistics(),
        'bridge': bridge.statistics(),
        'faults': {**{k: v for k, v in bridge.counters.items() if k != 'episodes'},
                   **{k: controller.counters[k] for k in FAULTS}},
        'interrupted': interrupted,
    }


def _report(summary: dict, json_output: str | Path | None, status: bool) -> None:
    text = json.dumps(_finite_or_none(summary), indent=2)
    if json_output == '-':
        print(text)
    elif json_output is not None:
        Path(json_output).parent.mkdir(parents=True, exist_ok=True)
        Path(json_output).write_text(text + '\n')
    if status:
        stats = summary['controller']
        print(f"{chr(10) if sys.stderr.isatty() else ''}"
              f"{summary['robot']} ({summary['mode']}): {summary['steps']} steps, "
              f"{summary['real_time_factor'] * summary['wall_time']:.2f} s simulated in "
              f"{summary['wall_time']:.2f} s "
              f"(x{summary['real_time_factor']:.2f}); {len(summary['episodes'])} episodes, "
              f"returns {[round(e['return'], 3) for e in summary['episodes']]}; policy step "
              f"{stats['compute_ms_p50']:.3f}/{stats['compute_ms_p99']:.3f} ms p50/p99, "
              f"state->command {stats['latency_ms_p50']:.3f}/{stats['latency_ms_p99']:.3f} ms; "
              f"faults {summary['faults']}", file=sys.stderr)
