"""A policy driving the simulated robot: sim_bridge + synergy_controller (+ rviz2).

ros2 launch synergy_control sim.launch.py policy:=walker.onnx mode:=lockstep rviz:=true
ros2 launch synergy_control sim.launch.py robot:=hopper_4 namespace:=robot1

The arguments, the nodes and their parameters come from ``synergy_control.ros.launch_plan``
(``sim_plan``, the plan ``synergy-control sim`` runs in one process). A bad argument, a
policy that does not fit the robot or rviz:=true without rviz2 stop the launch with a
message before any node starts.
"""

from synergy_control.ros.launch_plan import (SIM_ARGUMENTS, launch_description,
                                             sim_plan_from_arguments)


def generate_launch_description():
    """Declare the arguments; build the nodes once they are known."""
    return launch_description(SIM_ARGUMENTS, sim_plan_from_arguments)
