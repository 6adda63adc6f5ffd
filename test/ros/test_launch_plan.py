"""The launch graphs as data: plans, launch arguments, default policies, the launch files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from synergy_control.robots import get_robot
from synergy_control.ros import launch_plan
from synergy_control.ros.environment import ensure_local_dds, run_domain_id
from synergy_control.ros.launch_plan import (NodeSpec, default_policy, parse_bool, robot_plan,
                                             robot_plan_from_arguments, sim_plan,
                                             sim_plan_from_arguments)
from synergy_control.ros.topics import SYNERGY_MARKERS_TOPIC
from synergy_control.runtime import PolicyLoadError

ROOT = Path(__file__).resolve().parents[2]


SIM_DEFAULTS = {name: default for name, (default, _) in launch_plan.SIM_ARGUMENTS.items()}


def test_sim_plan_nodes_and_parameters(policies):
    bridge, controller = sim_plan('half_cheetah', policies['half_cheetah'], 'lockstep', 2.5, 7)
    assert (bridge.package, bridge.executable, bridge.name, bridge.namespace) == \
        ('synergy_control', 'sim_bridge', 'sim_bridge', '')
    assert bridge.parameters == {
        'robot': 'half_cheetah', 'mode': 'lockstep', 'realtime_factor': 2.5, 'seed': 7,
        'command_timeout': 0.5, 'publish_markers': 10.0, 'use_sim_time': False, 'task': ''}
    assert controller.executable == 'synergy_controller'
    assert controller.parameters == {
        'policy': str(policies['half_cheetah'].resolve()), 'robot': 'half_cheetah',
        'mode': 'lockstep', 'use_sim_time': True, 'watchdog_timeout': 0.5, 'hold_mode': 'zero',
        'task': ''}
    assert bridge.remappings == controller.remappings == ()  # the global /clock


def test_sim_plan_parameter_types_are_ros_types(policies):
    plan = sim_plan('half_cheetah', policies['half_cheetah'], realtime_factor=1, seed='3')
    bridge = plan[0].parameters
    assert isinstance(bridge['realtime_factor'], float) and isinstance(bridge['seed'], int)
    for spec in plan:
        for value in spec.parameters.values():
            assert isinstance(value, (bool, int, float, str))


def test_sim_plan_robot_defaults_to_the_policy_card(policies):
    _, controller = sim_plan(policy=policies['hopper_4'])
    assert controller.parameters['robot'] == 'hopper_4'


def test_sim_plan_policy_defaults_to_the_robots_shipped_policy():
    shipped = launch_plan.shipped_policies()
    assert {robot: path.stem for robot, path in shipped.items()} == {
        **{f'walker_{n}_main': 'walker_solar' for n in range(2, 8)},
        **{f'humanoid_2d_{variant}': 'humanoid2d_solar' for variant in (
            '9_full', '8_left_knee', '8_right_knee', '7_left_arm', '7_right_arm', '7_lower_arms',
            '7_left_leg', '7_right_leg')},
        'hopper_4': 'hopper_td3', 'half_cheetah': 'half_cheetah_vel_ear',
        'humanoid': 'humanoid_sar'}
    _, controller = sim_plan('hopper_4')
    assert controller.parameters['policy'] == str(shipped['hopper_4'])
    assert sim_plan()[1].parameters['policy'] == str(default_policy())


def package_with(monkeypatch, tmp_path, policies: dict[str, str]) -> None:
    """Make the package's models/ hold ``policies``: file stem -> a repository model's path."""
    models = tmp_path / 'models'
    models.mkdir()
    for stem, source in policies.items():
        for suffix in ('.onnx', '.card.yaml'):
            (models / f'{stem}{suffix}').write_bytes(
                (ROOT / 'models' / f'{source}{suffix}').read_bytes())
    monkeypatch.setattr(launch_plan, 'package_path', lambda name: tmp_path / name)


def test_a_policy_for_the_robot_alone_comes_before_one_for_several(monkeypatch, tmp_path):
    package_with(monkeypatch, tmp_path, {'walker_solar': 'walker_solar',
                                         'walker_td3': 'td3/walker_td3'})
    shipped = {robot: path.stem for robot, path in launch_plan.shipped_policies().items()}
    assert shipped['walker_7_main'] == 'walker_td3' and shipped['walker_4_main'] == 'walker_solar'


def test_two_shipped_policies_for_one_robot_are_refused(monkeypatch, tmp_path):
    package_with(monkeypatch, tmp_path, {'hopper_a': 'hopper_td3', 'hopper_b': 'hopper_td3'})
    with pytest.raises(ValueError, match=r"two shipped policies for robot 'hopper_4': "
                                         r'hopper_a.onnx and hopper_b.onnx'):
        launch_plan.shipped_policies()


def test_sim_plan_fails_fast_for_a_robot_without_a_policy(policies):
    with pytest.raises(ValueError, match=r"no shipped policy for robot 'hopper_3' "
                                         r'\(shipped: .*hopper_td3.onnx for hopper_4'):
        sim_plan('hopper_3')
    with pytest.raises(PolicyLoadError, match="does not fit robot 'hopper_4'"):
        sim_plan('hopper_4', policies['walker_7_main'])


def test_sim_plan_safety_parameters(policies):
    bridge, controller = sim_plan('walker_7_main', policies['walker_7_main'],
                                  command_timeout=0.2, watchdog_timeout=0.3, hold_mode='hold',
                                  publish_markers=0.0)
    assert bridge.parameters['command_timeout'] == 0.2
    assert bridge.parameters['publish_markers'] == 0.0
    assert controller.parameters['watchdog_timeout'] == 0.3
    assert controller.parameters['hold_mode'] == 'hold'


def test_sim_plan_in_a_namespace_has_its_own_clock(policies):
    plan = sim_plan('walker_7_main', policies['walker_7_main'], namespace='/robot1/')
    for spec in plan:
        assert spec.namespace == '/robot1'
        assert spec.remappings == (('/clock', '/robot1/clock'),)
    with pytest.raises(ValueError, match="namespace '1robot' is not a valid ROS namespace"):
        sim_plan('walker_7_main', policies['walker_7_main'], namespace='1robot')


def _no_rviz2(tmp_path, monkeypatch):
    """An environment where no rviz2 is installed: empty PATH and ament prefix."""
    monkeypatch.setenv('PATH', str(tmp_path))
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(tmp_path))


def _install_rviz2(prefix: Path) -> Path:
    """A prefix in the layout launch_ros looks up: ament index marker + lib/<pkg>/<exe>."""
    (prefix / 'share/ament_index/resource_index/packages').mkdir(parents=True)
    (prefix / 'share/ament_index/resource_index/packages/rviz2').touch()
    executable = prefix / 'lib' / 'rviz2' / 'rviz2'
    executable.parent.mkdir(parents=True)
    executable.write_text('#!/bin/sh\n')
    executable.chmod(0o755)
    return executable


def test_sim_plan_rviz_needs_rviz2_before_any_node(policies, tmp_path, monkeypatch):
    _no_rviz2(tmp_path, monkeypatch)
    with pytest.raises(ValueError, match='rviz:=true needs rviz2'):
        sim_plan_from_arguments({**SIM_DEFAULTS, 'rviz': 'true'})
    executable = _install_rviz2(tmp_path / 'ros')
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(tmp_path / 'ros'))
    assert launch_plan.find_executable('rviz2', 'rviz2') == str(executable)
    plan = sim_plan('walker_7_main', policies['walker_7_main'], rviz=True, namespace='r1')
    rviz = plan[-1]
    assert (rviz.package, rviz.executable, rviz.namespace) == ('rviz2', 'rviz2', '/r1')
    assert rviz.arguments[0] == '-d' and Path(rviz.arguments[1]).is_file()
    assert rviz.parameters == {'use_sim_time': True}
    assert dict(rviz.remappings) == {'/clock': '/r1/clock', '/odom': '/r1/odom',
                                     '/sim/markers': '/r1/sim/markers',
                                     '/synergy_controller/synergy_markers':
                                     '/r1/synergy_controller/synergy_markers'}


@pytest.mark.parametrize('kwargs, message', [
    ({'mode': 'fast'}, 'mode must be one of'),
    ({'realtime_factor': 0.0}, 'realtime_factor must be positive'),
    ({'seed': -1}, 'seed must be >= 0'),
    ({'robot': 'octopus'}, "unknown robot 'octopus'"),
    ({'hold_mode': 'brake'}, 'hold_mode must be one of'),
])
def test_sim_plan_rejects_bad_arguments(policies, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sim_plan(**{'robot': 'half_cheetah', 'policy': policies['half_cheetah'], **kwargs})


@pytest.mark.parametrize('text, value', [
    (word, word.lower() in ('true', '1', 'yes', 'on')) for word in
    ('true', 'True', 'TRUE', '1', 'yes', 'On', 'false', 'False', '0', 'no', 'OFF', ' off ')])
def test_boolean_arguments_accept_the_usual_spellings(text, value):
    assert parse_bool('rviz', text) is value
    _, controller = sim_plan_from_arguments({**SIM_DEFAULTS, 'use_sim_time': text})
    assert controller.parameters['use_sim_time'] is value


@pytest.mark.parametrize('name, text, message', [
    ('use_sim_time', 'maybe', "launch argument 'use_sim_time' must be one of true/"),
    ('rviz', '', "launch argument 'rviz' must be one of"),
    ('realtime_factor', 'abc', "launch argument 'realtime_factor' must be a finite number"),
    ('realtime_factor', 'nan', "launch argument 'realtime_factor' must be a finite number"),
    ('seed', '1.5', "launch argument 'seed' must be an integer, got '1.5'"),
    ('namespace', 'a b', "namespace 'a b' is not a valid"),
])
def test_bad_launch_arguments_are_named(name, text, message):
    with pytest.raises(ValueError, match=message):
        sim_plan_from_arguments({**SIM_DEFAULTS, name: text})


def test_robot_plan_turns_topic_arguments_into_remappings(policies):
    defaults = {name: default for name, (default, _) in launch_plan.ROBOT_ARGUMENTS.items()}
    (controller,) = robot_plan_from_arguments({
        **defaults, 'policy': str(policies['walker_7_main']), 'namespace': 'robot',
        'joint_states_topic': '/robot/joint_states', 'odom_topic': 'state/odom'})
    assert dict(controller.remappings) == {
        'joint_states': '/robot/joint_states', 'odom': 'state/odom',
        'effort_controller/commands': '/effort_controller/commands'}
    assert controller.namespace == '/robot'
    assert controller.parameters['use_sim_time'] is False
    assert controller.parameters['mode'] == 'realtime'
    assert not {'joint_states_topic', 'odom_topic', 'command_topic'} & set(controller.parameters)
    (plain,) = robot_plan(policies['walker_7_main'])
    assert plain.remappings == () and plain.namespace == ''


def test_launch_kwargs():
    spec = NodeSpec('p', 'e', 'n', {'a': 1}, (('/x', '/y'),), ('-d', 'f'), 'ns')
    assert spec.launch_kwargs() == {'package': 'p', 'executable': 'e', 'name': 'n',
                                    'namespace': 'ns', 'parameters': [{'a': 1}],
                                    'remappings': [('/x', '/y')], 'arguments': ['-d', 'f'],
                                    'output': 'screen'}


def test_default_policy(tmp_path, monkeypatch):
    monkeypatch.setattr(launch_plan, 'SOURCE_ROOT', tmp_path)
    with pytest.raises(FileNotFoundError, match='models/walker_solar.onnx'):
        default_policy()
    (tmp_path / 'models').mkdir()
    (tmp_path / 'models' / 'walker_solar.onnx').write_bytes(b'')
    assert default_policy() == tmp_path / 'models' / 'walker_solar.onnx'


@pytest.mark.parametrize('name, arguments, plan', [
    ('sim.launch.py', 'SIM_ARGUMENTS', 'sim_plan_from_arguments'),
    ('robot.launch.py', 'ROBOT_ARGUMENTS', 'robot_plan_from_arguments'),
])
def test_launch_files_build_nodes_from_the_plan(name, arguments, plan):
    """What ros2 launch runs: generate_launch_description() -> the plan's description."""
    tree = ast.parse((ROOT / 'launch' / name).read_text())
    (function,) = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert function.name == 'generate_launch_description'
    (call,) = [n for n in ast.walk(function) if isinstance(n, ast.Call)]
    assert call.func.id == 'launch_description'
    assert [arg.id for arg in call.args] == [arguments, plan]


def test_launch_arguments_cover_the_plan():
    assert set(SIM_DEFAULTS) == {'robot', 'policy', 'mode', 'realtime_factor', 'seed',
                                 'use_sim_time', 'rviz', 'namespace', 'task'}
    assert sim_plan_from_arguments(SIM_DEFAULTS)[1].parameters['robot'] == 'walker_7_main'


def test_rviz_config_shows_markers_and_odometry_in_world():
    config = yaml.safe_load((ROOT / 'config' / 'rviz' / 'sim.rviz').read_text())
    manager = config['Visualization Manager']
    assert manager['Global Options']['Fixed Frame'] == 'world'
    topics = {(d['Class'], d['Topic']['Value']) for d in manager['Displays'] if 'Topic' in d}
    assert topics == {('rviz_default_plugins/MarkerArray', '/sim/markers'),
                      ('rviz_default_plugins/MarkerArray', SYNERGY_MARKERS_TOPIC),
                      ('rviz_default_plugins/Odometry', '/odom')}


def test_effort_controllers_yaml_names_walker_joints():
    config = yaml.safe_load(
        (ROOT / 'config' / 'ros2_control' / 'effort_controllers.yaml').read_text())
    manager = config['controller_manager']['ros__parameters']
    assert manager['effort_controller']['type'] == \
        'forward_command_controller/ForwardCommandController'
    assert 'joint_state_broadcaster' in manager
    params = config['effort_controller']['ros__parameters']
    assert params['interface_name'] == 'effort'
    assert params['joints'] == get_robot('walker_7_main').joint_names


def test_ensure_local_dds(monkeypatch):
    for key in ('ROS_AUTOMATIC_DISCOVERY_RANGE', 'ROS_DOMAIN_ID', 'RMW_IMPLEMENTATION'):
        monkeypatch.delenv(key, raising=False)
    assert ensure_local_dds() == {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
                                  'RMW_IMPLEMENTATION': 'rmw_fastrtps_cpp'}
    assert ensure_local_dds(42)['ROS_DOMAIN_ID'] == '42'
    assert ensure_local_dds(7)['ROS_DOMAIN_ID'] == '42'  # the user's (earlier) choice wins
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'SUBNET')
    assert ensure_local_dds()['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'SUBNET'
    with pytest.raises(ValueError):
        ensure_local_dds(300)
    assert 1 <= run_domain_id(12345) <= 100 and run_domain_id(99) == 100
