"""The launch graphs as data: sim_plan, robot_plan, default policy, and the launch files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from synergy_control import launch_plan
from synergy_control.launch_plan import NodeSpec, default_policy, robot_plan, sim_plan
from synergy_control.robots import get_robot
from synergy_control.ros.environment import ensure_local_dds, run_domain_id

ROOT = Path(__file__).resolve().parents[2]


def test_sim_plan_nodes_and_parameters(policies):
    bridge, controller = sim_plan('half_cheetah', policies['half_cheetah'], 'lockstep', 2.5, 7)
    assert (bridge.package, bridge.executable, bridge.name) == \
        ('synergy_control', 'sim_bridge', 'sim_bridge')
    assert bridge.parameters == {
        'robot': 'half_cheetah', 'mode': 'lockstep', 'realtime_factor': 2.5, 'seed': 7,
        'command_topic': '/effort_controller/commands', 'command_timeout': 0.5,
        'publish_markers': 10.0, 'use_sim_time': False}
    assert controller.executable == 'synergy_controller'
    assert controller.parameters['policy'] == str(policies['half_cheetah'].resolve())
    assert controller.parameters['robot'] == 'half_cheetah'
    assert controller.parameters['mode'] == 'lockstep'
    assert controller.parameters['use_sim_time'] is True
    assert controller.parameters['command_topic'] == bridge.parameters['command_topic']


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


def test_sim_plan_custom_topics_and_safety(policies):
    bridge, controller = sim_plan('walker_7_main', policies['walker_7_main'],
                                  command_topic='/x/commands', command_timeout=0.2,
                                  watchdog_timeout=0.3, hold_mode='hold', publish_markers=0.0)
    assert bridge.parameters['command_topic'] == controller.parameters['command_topic'] == \
        '/x/commands'
    assert bridge.parameters['command_timeout'] == 0.2
    assert bridge.parameters['publish_markers'] == 0.0
    assert controller.parameters['watchdog_timeout'] == 0.3
    assert controller.parameters['hold_mode'] == 'hold'


def test_sim_plan_rviz(policies):
    plan = sim_plan('walker_7_main', policies['walker_7_main'], rviz=True)
    rviz = plan[-1]
    assert (rviz.package, rviz.executable) == ('rviz2', 'rviz2')
    assert rviz.arguments[0] == '-d' and Path(rviz.arguments[1]).is_file()
    assert rviz.parameters == {'use_sim_time': True}


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


def test_robot_plan(policies):
    (controller,) = robot_plan(policies['walker_7_main'], '/robot/joint_states',
                               '/robot/effort_controller/commands', odom_topic='/robot/odom')
    assert controller.parameters['joint_states_topic'] == '/robot/joint_states'
    assert controller.parameters['command_topic'] == '/robot/effort_controller/commands'
    assert controller.parameters['odom_topic'] == '/robot/odom'
    assert controller.parameters['use_sim_time'] is False
    assert controller.parameters['mode'] == 'realtime'


def test_launch_kwargs():
    spec = NodeSpec('p', 'e', 'n', {'a': 1}, (('/x', '/y'),), ('-d', 'f'))
    assert spec.launch_kwargs() == {'package': 'p', 'executable': 'e', 'name': 'n',
                                    'parameters': [{'a': 1}], 'remappings': [('/x', '/y')],
                                    'arguments': ['-d', 'f'], 'output': 'screen'}


def test_default_policy(tmp_path, monkeypatch):
    monkeypatch.setattr(launch_plan, 'SOURCE_ROOT', tmp_path)
    with pytest.raises(FileNotFoundError, match='models/walker_td3.onnx'):
        default_policy()
    (tmp_path / 'models').mkdir()
    (tmp_path / 'models' / 'walker_td3.onnx').write_bytes(b'')
    assert default_policy() == tmp_path / 'models' / 'walker_td3.onnx'


def _parse(path: Path) -> tuple[set[str], set[str]]:
    """Names of the functions the launch file calls and the keys of its ARGUMENTS dict."""
    tree = ast.parse(path.read_text())
    calls = {node.func.id if isinstance(node.func, ast.Name) else node.func.attr
             for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, (ast.Name, ast.Attribute))}
    arguments = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                     and node.targets[0].id == 'ARGUMENTS')
    return calls, {key.value for key in arguments.keys}


@pytest.mark.parametrize('name, plan, arguments', [
    ('sim.launch.py', 'sim_plan', {'robot', 'policy', 'mode', 'realtime_factor', 'rviz'}),
    ('robot.launch.py', 'robot_plan', {'policy', 'joint_states_topic', 'command_topic'}),
])
def test_launch_files_build_nodes_from_the_plan(name, plan, arguments):
    path = ROOT / 'launch' / name
    calls, declared = _parse(path)
    assert {plan, 'launch_kwargs', 'Node', 'OpaqueFunction', 'DeclareLaunchArgument',
            'LaunchDescription'} <= calls
    assert arguments <= declared
    tree = ast.parse(path.read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == 'generate_launch_description'
               for n in tree.body)


def test_rviz_config_shows_markers_and_odometry_in_world():
    config = yaml.safe_load((ROOT / 'config' / 'rviz' / 'sim.rviz').read_text())
    manager = config['Visualization Manager']
    assert manager['Global Options']['Fixed Frame'] == 'world'
    topics = {d['Class']: d['Topic']['Value'] for d in manager['Displays'] if 'Topic' in d}
    assert topics['rviz_default_plugins/MarkerArray'] == '/sim/markers'
    assert topics['rviz_default_plugins/Odometry'] == '/odom'


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
