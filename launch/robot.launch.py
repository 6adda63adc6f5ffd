"""A policy driving a real robot through ros2_control: synergy_controller alone.

Start the robot's controller_manager with config/ros2_control/effort_controllers.yaml
(joint_state_broadcaster + effort forward_command_controller), then:

ros2 launch synergy_control robot.launch.py policy:=walker.onnx

The topic arguments become remappings of the controller's relative topic names. The
arguments, the node and its parameters come from ``synergy_control.ros.launch_plan``
(``robot_plan``); a bad argument or a policy that does not fit the robot stops the launch
with a message before the node starts.
"""

from synergy_control.ros.launch_plan import (ROBOT_ARGUMENTS, launch_description,
                                             robot_plan_from_arguments)


def generate_launch_description():
    """Declare the arguments; build the node once they are known."""
    return launch_description(ROBOT_ARGUMENTS, robot_plan_from_arguments)
