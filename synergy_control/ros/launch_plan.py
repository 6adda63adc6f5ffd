"""The node graphs of the launch files, as plain data (ROS-free).

``launch/sim.launch.py`` and ``launch/robot.launch.py`` turn these plans into launch_ros
nodes, and :func:`synergy_control.sim_runner.run_sim` instantiates the same plan in one
process, so the CLI, the launch files and the tests run one graph with one set of
parameters.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from synergy_control.card import CardError, PolicyCard
from synergy_control.robots import Task, get_robot, variant_names
from synergy_control.ros.topics import (CLOCK_TOPIC, DEFAULT_COMMAND_TOPIC, JOINT_STATES_TOPIC,
                                        ODOM_TOPIC, SIM_MARKERS_TOPIC, SYNERGY_MARKERS_TOPIC)
from synergy_control.runtime import PolicyLoadError, read_card
from synergy_control.task_embedding import command_for_task, parse_task

PACKAGE = 'synergy_control'
#: The policy of a graph started with neither a policy nor a robot: SOLAR's walkers, whose
#: card runs walker_7_main (the full walker) when no robot is named.
DEFAULT_POLICY = 'walker_solar'
MODES = ('realtime', 'lockstep')
HOLD_MODES = ('zero', 'hold')
#: Executors the nodes can spin on: ``events`` dispatches each message or timer as the
#: middleware reports it; ``single_threaded`` rebuilds and waits on a wait set of every
#: entity (services, QoS event handlers, timers) after each callback.
EXECUTORS = ('events', 'single_threaded')
SOURCE_ROOT = Path(__file__).resolve().parents[2]
#: Spellings of a boolean launch argument (compared case-insensitively).
TRUE_WORDS = ('true', '1', 'yes', 'on')
FALSE_WORDS = ('false', '0', 'no', 'off')
_NAMESPACE = re.compile(r'[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*')

#: sim.launch.py's arguments: name -> (default, description).
SIM_ARGUMENTS = {
    'robot': ('', "robot variant (empty: the policy card's robot)"),
    'policy': ('', 'exported ONNX policy (empty: the shipped policy of the robot, else '
                   'models/walker_solar.onnx)'),
    'mode': ('realtime', 'realtime (wall clock x realtime_factor) or lockstep'),
    'realtime_factor': ('1.0', 'simulated seconds per wall second in realtime mode'),
    'seed': ('0', 'reset seed of the first episode'),
    'task': ('', "multi-task policies: the task, e.g. vel:4.5 (the simulator's reward too) "
                 "or a command such as 'vel:3 vel:5 0.25'; empty: the policy's default"),
    'use_sim_time': ('true', 'controller and rviz follow the simulator clock'),
    'rviz': ('false', 'start rviz2 with config/rviz/sim.rviz'),
    'namespace': ('', 'namespace of the graph (topics, services and clock), e.g. robot1'),
}
#: robot.launch.py's arguments: name -> (default, description).
ROBOT_ARGUMENTS = {
    'policy': ('', 'exported ONNX policy (empty: models/walker_solar.onnx of the package)'),
    'robot': ('', "robot variant to check the policy against (empty: the card's robot)"),
    'joint_states_topic': ('/joint_states', 'sensor_msgs/JointState of the robot'),
    'odom_topic': ('/odom', 'nav_msgs/Odometry of the floating base'),
    'command_topic': ('/' + DEFAULT_COMMAND_TOPIC, 'effort forward_command_controller input'),
    'mode': ('realtime', 'realtime (control-rate timer) or lockstep (one command per state)'),
    'hold_mode': ('zero', 'safe command on faults: zero effort or hold the last command'),
    'task': ('', "multi-task policies: the task command, e.g. vel:3 (settable at run time)"),
    'use_sim_time': ('false', 'follow /clock'),
    'namespace': ('', 'namespace of the controller node'),
}


@dataclass(frozen=True)
class NodeSpec:
    """One node of a plan: what ``launch_ros.actions.Node`` needs, as data."""

    package: str
    executable: str
    name: str
    parameters: dict[str, Any]
    remappings: tuple[tuple[str, str], ...] = ()
    arguments: tuple[str, ...] = field(default=())
    namespace: str = ''

    def launch_kwargs(self) -> dict[str, Any]:
        """Return the keyword arguments of ``launch_ros.actions.Node`` for this node."""
        return {'package': self.package, 'executable': self.executable, 'name': self.name,
                'namespace': self.namespace, 'parameters': [dict(self.parameters)],
                'remappings': list(self.remappings), 'arguments': list(self.arguments),
                'output': 'screen'}


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


def shipped_policies() -> dict[str, Path]:
    """Map each robot to the package's policy for it (``models/*.onnx``).

    A policy made for the robot alone comes before one that serves several robots. Two made
    for one robot are refused: which one a robot runs must not hang on file names.
    """
    cards = {path: read_card(path) for path in sorted(package_path('models').glob('*.onnx'))}
    shipped: dict[str, Path] = {}
    for path, card in cards.items():
        if card.variants is None:
            if card.robot in shipped:
                raise ValueError(f'two shipped policies for robot {card.robot!r}: '
                                 f'{shipped[card.robot].name} and {path.name}; keep one in '
                                 f'{path.parent}')
            shipped[card.robot] = path
    for path, card in cards.items():
        for robot in card.robots:
            shipped.setdefault(robot, path)
    return shipped


def find_executable(package: str, executable: str) -> str | None:
    """Where launch_ros would find ``executable`` of ``package`` (else on PATH); None if not.

    launch_ros looks in ``<prefix>/lib/<package>/`` of the ament index.
    """
    try:
        from ament_index_python.packages import get_package_prefix
        candidate = Path(get_package_prefix(package)) / 'lib' / package / executable
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    except (ImportError, LookupError, OSError):  # no ament index, or package not in it
        pass
    return shutil.which(executable)


def parse_bool(name: str, text: str) -> bool:
    """Parse a boolean launch argument in any of the usual spellings; ValueError names it."""
    word = str(text).strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise ValueError(f"launch argument '{name}' must be one of "
                     f"{'/'.join(TRUE_WORDS + FALSE_WORDS)}, got '{text}'")


def parse_number(name: str, text: str, kind: Callable[[str], float] = float) -> float:
    """Parse a finite numeric launch argument; ValueError names it."""
    try:
        value = kind(str(text).strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        what = 'an integer' if kind is int else 'a finite number'
        raise ValueError(f"launch argument '{name}' must be {what}, got '{text}'")
    return value


def _namespace(namespace: str) -> str:
    """'' or '/a/b' for 'a/b', '/a/b' or 'a/b/'; ValueError names the argument."""
    stripped = namespace.strip().strip('/')
    if stripped and not _NAMESPACE.fullmatch(stripped):
        raise ValueError(f"namespace '{namespace}' is not a valid ROS namespace (letters, "
                         "digits and '_' in '/'-separated parts, none starting with a digit)")
    return f'/{stripped}' if stripped else ''


def _check(mode: str, realtime_factor: float, hold_mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got '{mode}'")
    if hold_mode not in HOLD_MODES:
        raise ValueError(f"hold_mode must be one of {HOLD_MODES}, got '{hold_mode}'")
    if not realtime_factor > 0:
        raise ValueError(f'realtime_factor must be positive, got {realtime_factor}')


def _resolve(policy: str | Path | None, robot: str | None) -> tuple[str, str, PolicyCard]:
    """Resolve the policy path, the robot and the card; check that the policy fits the robot.

    Without a policy, the robot's shipped policy is used (the default policy without a
    robot). A policy whose card does not fit the robot fails here (PolicyLoadError), before
    any node starts.
    """
    if robot is not None and robot not in variant_names():
        raise ValueError(f"unknown robot '{robot}'; known: {', '.join(variant_names())}")
    if policy:
        path = Path(policy).expanduser().resolve()
    elif robot is None:
        path = default_policy()
    else:
        shipped = shipped_policies()
        if robot not in shipped:
            raise ValueError(
                f"no shipped policy for robot '{robot}' (shipped: "
                + ', '.join(f'{p.name} for {r}' for r, p in shipped.items())
                + '); pass a policy for it')
        path = shipped[robot]
    card = read_card(path)
    robot = robot or card.robot
    try:
        card.check_robot(get_robot(robot))
    except CardError as error:  # as PolicyRuntime reports it, naming the file
        raise PolicyLoadError(f'policy {path}: {error}') from error
    return str(path), robot, card


def _task(policy: str, card: PolicyCard, task: str) -> tuple[str, str]:
    """Split ``task`` into the simulator's task and the controller's task command.

    An environment task (``vel:4.5``) is both the simulator's reward and, through
    :func:`~synergy_control.task_embedding.command_for_task`, the policy's command; a
    blend or a vector only commands the policy. ValueError names the argument.
    """
    if not task:
        return '', ''
    tasks = card.tasks
    if tasks is None:
        raise ValueError(f"task '{task}': policy {policy} takes no task")
    try:
        Task.parse(task)
    except ValueError:  # a command, not an environment task
        parse_task(task, tasks['embeddings'], tasks['dim'])
        return '', task
    return task, command_for_task(task, tasks['embeddings'])


def _controller(policy: str, robot: str, mode: str, use_sim_time: bool,
                watchdog_timeout: float, hold_mode: str, namespace: str,
                remappings: tuple[tuple[str, str], ...], task: str = '') -> NodeSpec:
    return NodeSpec(PACKAGE, 'synergy_controller', 'synergy_controller', {
        'policy': policy, 'robot': robot, 'mode': mode, 'use_sim_time': bool(use_sim_time),
        'watchdog_timeout': float(watchdog_timeout), 'hold_mode': hold_mode, 'task': task},
        remappings, namespace=namespace)


def sim_plan(robot: str | None = None, policy: str | Path | None = None,
             mode: str = 'realtime', realtime_factor: float = 1.0, seed: int = 0,
             use_sim_time: bool = True, *, namespace: str = '', command_timeout: float = 0.5,
             watchdog_timeout: float = 0.5, hold_mode: str = 'zero',
             publish_markers: float = 10.0, rviz: bool = False, task: str = '') -> list[NodeSpec]:
    """sim_bridge + synergy_controller (+ rviz2): a policy driving the MuJoCo robot.

    ``robot`` defaults to the policy card's robot and ``policy`` to the robot's shipped
    policy (:func:`default_policy` without a robot). The bridge is the clock source and
    never uses sim time itself; in a ``namespace`` every node of the graph, rviz2 included,
    reads the namespace's own clock, so that several simulated robots share a domain.
    rviz2 must be installed (ValueError before any node starts). ``task`` (multi-task
    policies) is split by :func:`_task`.
    """
    _check(mode, realtime_factor, hold_mode)
    if int(seed) < 0:
        raise ValueError(f'seed must be >= 0, got {seed}')
    namespace = _namespace(namespace)
    rviz_config = package_path('config/rviz/sim.rviz') if rviz else None
    if rviz and find_executable('rviz2', 'rviz2') is None:
        raise ValueError('rviz:=true needs rviz2, which is not installed (Debian/Ubuntu: apt '
                         'install ros-$ROS_DISTRO-rviz2); launch without rviz:=true')
    policy, robot, card = _resolve(policy, robot)
    sim_task, command = _task(policy, card, task)
    clock = ((CLOCK_TOPIC, f'{namespace}{CLOCK_TOPIC}'),) if namespace else ()
    plan = [
        NodeSpec(PACKAGE, 'sim_bridge', 'sim_bridge', {
            'robot': robot, 'mode': mode, 'realtime_factor': float(realtime_factor),
            'seed': int(seed), 'command_timeout': float(command_timeout),
            'publish_markers': float(publish_markers), 'use_sim_time': False,
            'task': sim_task}, clock, namespace=namespace),
        _controller(policy, robot, mode, use_sim_time, watchdog_timeout, hold_mode, namespace,
                    clock, command),
    ]
    if rviz:
        # The display topics of sim.rviz are the un-namespaced graph's.
        shown = ((f'/{ODOM_TOPIC}', f'{namespace}/{ODOM_TOPIC}'),
                 (f'/{SIM_MARKERS_TOPIC}', f'{namespace}/{SIM_MARKERS_TOPIC}'),
                 (SYNERGY_MARKERS_TOPIC, f'{namespace}{SYNERGY_MARKERS_TOPIC}'))
        plan.append(NodeSpec('rviz2', 'rviz2', 'rviz2', {'use_sim_time': bool(use_sim_time)},
                             clock + (shown if namespace else ()),
                             ('-d', str(rviz_config)), namespace=namespace))
    return plan


def robot_plan(policy: str | Path | None = None, joint_states_topic: str = JOINT_STATES_TOPIC,
               command_topic: str = DEFAULT_COMMAND_TOPIC, *, odom_topic: str = ODOM_TOPIC,
               robot: str | None = None, mode: str = 'realtime', use_sim_time: bool = False,
               watchdog_timeout: float = 0.5, hold_mode: str = 'zero',
               namespace: str = '', task: str = '') -> list[NodeSpec]:
    """synergy_controller alone, for a robot whose driver (e.g. ros2_control) is running.

    With ros2_control, ``joint_state_broadcaster`` publishes ``/joint_states`` and an effort
    ``forward_command_controller`` named ``effort_controller`` reads ``command_topic``. The
    topic arguments become remappings of the controller's (relative) topic names.
    """
    _check(mode, 1.0, hold_mode)
    policy, robot, card = _resolve(policy, robot)
    remappings = tuple((name, topic) for name, topic in (
        (JOINT_STATES_TOPIC, joint_states_topic), (ODOM_TOPIC, odom_topic),
        (DEFAULT_COMMAND_TOPIC, command_topic)) if topic != name)
    return [_controller(policy, robot, mode, use_sim_time, watchdog_timeout, hold_mode,
                        _namespace(namespace), remappings, _task(policy, card, task)[1])]


def sim_plan_from_arguments(values: Mapping[str, str]) -> list[NodeSpec]:
    """Build the graph of sim.launch.py from its (string) arguments; errors name them."""
    return sim_plan(robot=values['robot'] or None, policy=values['policy'] or None,
                    mode=values['mode'],
                    realtime_factor=parse_number('realtime_factor', values['realtime_factor']),
                    seed=parse_number('seed', values['seed'], int),
                    use_sim_time=parse_bool('use_sim_time', values['use_sim_time']),
                    rviz=parse_bool('rviz', values['rviz']), namespace=values['namespace'],
                    task=values['task'].strip())


def robot_plan_from_arguments(values: Mapping[str, str]) -> list[NodeSpec]:
    """Build the node of robot.launch.py from its (string) arguments; errors name them."""
    return robot_plan(values['policy'] or None, values['joint_states_topic'],
                      values['command_topic'], odom_topic=values['odom_topic'],
                      robot=values['robot'] or None, mode=values['mode'],
                      hold_mode=values['hold_mode'],
                      use_sim_time=parse_bool('use_sim_time', values['use_sim_time']),
                      namespace=values['namespace'], task=values['task'].strip())


def launch_description(arguments: Mapping[str, tuple[str, str]],
                       plan_from_arguments: Callable[[Mapping[str, str]], list[NodeSpec]]
                       ) -> Any:
    """Build a launch file's LaunchDescription: its arguments, then the plan's nodes.

    The nodes are built once the arguments are known (OpaqueFunction); an error raised by
    the plan stops the launch with its message before any node starts. ``launch`` and
    ``launch_ros`` come with a ROS install (they are not pip packages), hence imported here.
    """
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    def nodes(context: Any) -> list[Any]:
        plan = plan_from_arguments(
            {name: LaunchConfiguration(name).perform(context) for name in arguments})
        return [Node(**spec.launch_kwargs()) for spec in plan]

    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=description)
          for name, (default, description) in arguments.items()),
        OpaqueFunction(function=nodes),
    ])
