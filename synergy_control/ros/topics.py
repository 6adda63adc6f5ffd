"""Topic names of the node graph: what the nodes publish and subscribe to, the plan remaps.

Relative names, so that a namespace places them (and remapping renames them, as
robot.launch.py's topic arguments do). /diagnostics stays global (ROS convention); /clock is
the simulator's, remapped into the namespace of a namespaced sim.
"""

DEFAULT_COMMAND_TOPIC = 'effort_controller/commands'
JOINT_STATES_TOPIC = 'joint_states'
ODOM_TOPIC = 'odom'
CLOCK_TOPIC = '/clock'
DIAGNOSTICS_TOPIC = '/diagnostics'
#: The simulator's robot drawn as markers (its geoms, in ``world``).
SIM_MARKERS_TOPIC = 'sim/markers'
#: The controller's synergy activations and markers (private names of the node).
SYNERGY_ACTIVATIONS_TOPIC = '~/synergy_activations'
CONTROLLER_MARKERS_TOPIC = '~/synergy_markers'
#: Task commands of a multi-task policy: a task by name or blend, a velocity, the embedding in use.
TASK_TOPIC = '~/task'
CMD_VEL_TOPIC = 'cmd_vel'
TASK_EMBEDDING_TOPIC = '~/task_embedding'
#: The simulator's episode statistics (a DiagnosticStatus when an episode ends).
EPISODE_TOPIC = 'sim/episode'
#: The controller's synergy markers (its private ~/synergy_markers), as the rviz config shows
#: them in the un-namespaced graph.
SYNERGY_MARKERS_TOPIC = '/synergy_controller/synergy_markers'
