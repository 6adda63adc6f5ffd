"""A policy driving the simulated robot: sim_bridge + synergy_controller (+ rviz2).

ros2 launch synergy_control sim.launch.py policy:=walker.onnx mode:=lockstep rviz:=true

The nodes and their parameters come from ``synergy_control.launch_plan.sim_plan``, the plan
``synergy-control sim`` runs in one process.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.launch_context import LaunchContext
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from synergy_control.launch_plan import sim_plan

ARGUMENTS = {
    'robot': ('', "robot variant (empty: the policy card's robot)"),
    'policy': ('', 'exported ONNX policy (empty: models/walker_td3.onnx of the package)'),
    'mode': ('realtime', 'realtime (wall clock x realtime_factor) or lockstep'),
    'realtime_factor': ('1.0', 'simulated seconds per wall second in realtime mode'),
    'seed': ('0', 'reset seed of the first episode'),
    'use_sim_time': ('true', 'controller and rviz follow /clock'),
    'rviz': ('false', 'start rviz2 with config/rviz/sim.rviz'),
}


def _nodes(context: LaunchContext) -> list[Node]:
    value = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    plan = sim_plan(robot=value['robot'] or None, policy=value['policy'] or None,
                    mode=value['mode'], realtime_factor=float(value['realtime_factor']),
                    seed=int(value['seed']),
                    use_sim_time=value['use_sim_time'].lower() == 'true',
                    rviz=value['rviz'].lower() == 'true')
    return [Node(**spec.launch_kwargs()) for spec in plan]


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments; build the nodes once they are known."""
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=description)
          for name, (default, description) in ARGUMENTS.items()),
        OpaqueFunction(function=_nodes),
    ])
