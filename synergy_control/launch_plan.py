"""The node graphs of the launch files, as plain data (ROS-free).

``launch/sim.launch.py`` and ``launch/robot.launch.py`` turn these plans into launch_ros
nodes, and :func:`synergy_control.sim_runner.run_sim` instantiates the same plan in one
process, so the CLI, the launch files and the tests run one graph with one set of
parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synergy_control.robots import variant_names
from synergy_control.runtime import read_card

PACKAGE = 'synergy_control'
DEFAULT_POLICY = 'walker_td3'
DEFAULT_COMMAND_TOPIC = '/effort_controller/commands'
MODES = ('realtime', 'lockstep')
HOLD_MODES = ('zero', 'hold')
#: Executors the nodes can spin on: ``events`` dispatches each message or timer as the
#: middleware reports it; ``single_threaded`` rebuilds and waits on a wait set of every
#: entity (services, QoS event handlers, timers) after each callback.
EXECUTORS = ('events', 'single_threaded')
SOURCE_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class NodeSpec:
    """One node of a plan: what ``launch_ros.actions.Node`` needs, as data."""

    package: str
    executable: str
    name: str
    parameters: dict[str, Any]
    remappings: tuple[tuple[str, str], ...] = ()
    arguments: tuple[str, ...] = field(default=())

    def launch_kwargs(self) -> dict[str, Any]:
        """Return the keyword arguments of ``launch_ros.actions.Node`` for this node."""
        return {'package': self.package, 'executable': self.executable, 'name': self.name,
                'parameters': [dict(self.parameters)], 'remappings': list(self.remappings),
                'arguments': list(self.arguments), 'output': 'screen'}


def package_path(relative: str) -> Path:
    """Find a file of the package: in its installed share directory, else the source tree."""
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory
        candidates.append(Path(get_package_share_directory(PACKAGE)) / relative)
    except (ImportError, LookupError, OSError):  # not installed in an ament prefix
        pass
    candidates.append(SOURCE_ROOT / relative)
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{relative} is neither installed with {PACKAGE} nor in the source "
                            f"tree (looked at {', '.join(str(c) for c in candidates)})")


def default_policy(name: str = DEFAULT_POLICY) -> Path:
    """Find ``models/<name>.onnx`` of the package; FileNotFoundError says how to get one."""
    try:
        return package_path(f'models/{name}.onnx')
    except FileNotFoundError as error:
        raise FileNotFoundError(f'no default policy: {error}; pass a policy file, e.g. one '
                                'written by `synergy-control export`') from error


def _check(mode: str, realtime_factor: float, hold_mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got '{mode}'")
    if hold_mode not in HOLD_MODES:
        raise ValueError(f"hold_mode must be one of {HOLD_MODES}, got '{hold_mode}'")
    if not realtime_factor > 0:
        raise ValueError(f'realtime_factor must be positive, got {realtime_factor}')


def _resolve(policy: str | Path | None, robot: str | None) -> tuple[str, str]:
    """Resolve the policy path and robot (the card's if not given)."""
    path = Path(policy).expanduser().resolve() if policy else default_policy()
    robot = robot or read_card(path).robot
    if robot not in variant_names():
        raise ValueError(f"unknown robot '{robot}'; known: {', '.join(variant_names())}")
    return str(path), robot


def _controller(policy: str, robot: str, mode: str, use_sim_time: bool,
                joint_states_topic: str, odom_topic: str, command_topic: str,
                watchdog_timeout: float, hold_mode: str) -> NodeSpec:
    return NodeSpec(PACKAGE, 'synergy_controller', 'synergy_controller', {
        'policy': policy, 'robot': robot, 'mode': mode, 'use_sim_time': bool(use_sim_time),
        'joint_states_topic': joint_states_topic, 'odom_topic': odom_topic,
        'command_topic': command_topic, 'watchdog_timeout': float(watchdog_timeout),
        'hold_mode': hold_mode})


def sim_plan(robot: str | None = None, policy: str | Path | None = None,
             mode: str = 'realtime', realtime_factor: float = 1.0, seed: int = 0,
             use_sim_time: bool = True, *, command_topic: str = DEFAULT_COMMAND_TOPIC,
             command_timeout: float = 0.5, watchdog_timeout: float = 0.5,
             hold_mode: str = 'zero', publish_markers: float = 10.0,
             rviz: bool = False) -> list[NodeSpec]:
    """sim_bridge + synergy_controller (+ rviz2): a policy driving the MuJoCo robot.

    ``robot`` defaults to the policy card's robot and ``policy`` to :func:`default_policy`.
    The bridge is the /clock source and never uses sim time itself.
    """
    _check(mode, realtime_factor, hold_mode)
    if int(seed) < 0:
        raise ValueError(f'seed must be >= 0, got {seed}')
    policy, robot = _resolve(policy, robot)
    plan = [
        NodeSpec(PACKAGE, 'sim_bridge', 'sim_bridge', {
            'robot': robot, 'mode': mode, 'realtime_factor': float(realtime_factor),
            'seed': int(seed), 'command_topic': command_topic,
            'command_timeout': float(command_timeout),
            'publish_markers': float(publish_markers), 'use_sim_time': False}),
        _controller(policy, robot, mode, use_sim_time, '/joint_states', '/odom', command_topic,
                    watchdog_timeout, hold_mode),
    ]
    if rviz:
        plan.append(NodeSpec('rviz2', 'rviz2', 'rviz2', {'use_sim_time': bool(use_sim_time)},
                             arguments=('-d', str(package_path('config/rviz/sim.rviz')))))
    return plan


def robot_plan(policy: str | Path | None = None, joint_states_topic: str = '/joint_states',
               command_topic: str = DEFAULT_COMMAND_TOPIC, *, odom_topic: str = '/odom',
               robot: str | None = None, mode: str = 'realtime', use_sim_time: bool = False,
               watchdog_timeout: float = 0.5, hold_mode: str = 'zero') -> list[NodeSpec]:
    """synergy_controller alone, for a robot whose driver (e.g. ros2_control) is running.

    With ros2_control, ``joint_state_broadcaster`` publishes ``/joint_states`` and an effort
    ``forward_command_controller`` named ``effort_controller`` reads ``command_topic``.
    """
    _check(mode, 1.0, hold_mode)
    policy, robot = _resolve(policy, robot)
    return [_controller(policy, robot, mode, use_sim_time, joint_states_topic, odom_topic,
                        command_topic, watchdog_timeout, hold_mode)]
