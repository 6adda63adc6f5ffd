"""A policy driving a real robot through ros2_control: synergy_controller alone.

Start the robot's controller_manager with config/ros2_control/effort_controllers.yaml
(joint_state_broadcaster + effort forward_command_controller), then:

ros2 launch synergy_control robot.launch.py policy:=walker.onnx

The node and its parameters come from ``synergy_control.launch_plan.robot_plan``.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.launch_context import LaunchContext
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from synergy_control.launch_plan import DEFAULT_COMMAND_TOPIC, robot_plan

ARGUMENTS = {
    'policy': ('', 'exported ONNX policy (empty: models/walker_td3.onnx of the package)'),
    'robot': ('', "robot variant to check the policy against (empty: the card's robot)"),
    'joint_states_topic': ('/joint_states', 'sensor_msgs/JointState of the robot'),
    'odom_topic': ('/odom', 'nav_msgs/Odometry of the floating base'),
    'command_topic': (DEFAULT_COMMAND_TOPIC, 'effort forward_command_controller input'),
    'mode': ('realtime', 'realtime (control-rate timer) or lockstep (one command per state)'),
    'hold_mode': ('zero', 'safe command on faults: zero effort or hold the last command'),
    'use_sim_time': ('false', 'follow /clock'),
}


def _nodes(context: LaunchContext) -> list[Node]:
    value = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    plan = robot_plan(value['policy'] or None, value['joint_states_topic'],
                      value['command_topic'], odom_topic=value['odom_topic'],
                      robot=value['robot'] or None, mode=value['mode'],
                      hold_mode=value['hold_mode'],
                      use_sim_time=value['use_sim_time'].lower() == 'true')
    return [Node(**spec.launch_kwargs()) for spec in plan]


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments; build the node once they are known."""
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=description)
          for name, (default, description) in ARGUMENTS.items()),
        OpaqueFunction(function=_nodes),
    ])
