"""Explicit QoS profiles of every topic, so that publishers and subscribers agree by design.

States are published reliably (a reliable writer serves both reliable and best-effort
readers) and read with the sensor-data profile, so a slow consumer never backs up the
simulation. Commands keep only the newest value: a stale effort is worse than none.
"""

from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy,
                       qos_profile_sensor_data)


def _profile(reliability: ReliabilityPolicy, depth: int) -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=reliability,
                      durability=DurabilityPolicy.VOLATILE)


#: /joint_states and /odom as published by the bridge (or a robot driver).
STATE_PUBLISHER = _profile(ReliabilityPolicy.RELIABLE, 10)
#: /joint_states and /odom as read by the controller and monitors.
STATE_SUBSCRIBER = qos_profile_sensor_data
#: Effort commands, both sides (ros2_control's forward_command_controller reads depth 1).
COMMAND = _profile(ReliabilityPolicy.RELIABLE, 1)
#: Effort commands as the simulation reads them: it matches each command to the state it
#: answers (by stamp), so a stray publisher's flood must not push the answer out of the queue.
COMMAND_MATCHING_READER = _profile(ReliabilityPolicy.RELIABLE, 16)
#: /clock, both sides (what rclpy's TimeSource subscribes with).
CLOCK = _profile(ReliabilityPolicy.BEST_EFFORT, 1)
#: /sim/markers: only the newest frame matters.
MARKERS = _profile(ReliabilityPolicy.RELIABLE, 1)
#: /diagnostics, /sim/episode and synergy activations: every message counts.
EVENTS = _profile(ReliabilityPolicy.RELIABLE, 10)
