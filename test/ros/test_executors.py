"""The nodes on every executor: message info reaches callbacks; a node process stops safely."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import rclpy
from nav_msgs.msg import Odometry
from rclpy.context import Context
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from synergy_control.envs import LocomotionEnv
from synergy_control.ros import qos
from synergy_control.ros.conversions import joint_state_msg, odometry_msg, stamp_from_ns
from synergy_control.ros.launch_plan import EXECUTORS
from synergy_control.ros.node_tools import MessageInfoCallback, make_executor
from synergy_control.ros.topics import DEFAULT_COMMAND_TOPIC
from synergy_control.runtime import PolicyRuntime


@pytest.mark.parametrize('executor', EXECUTORS)
def test_message_info_reaches_callbacks_on_every_executor(local_dds, executor):
    context = Context()
    rclpy.init(context=context)
    node = Node('info_probe', context=context)
    spinner = make_executor(executor, context)
    try:
        received = []
        node.create_subscription(Float64MultiArray, 'info_probe', MessageInfoCallback(
            lambda msg, info: received.append((msg, info))), qos.COMMAND)
        publisher = node.create_publisher(Float64MultiArray, 'info_probe', qos.COMMAND)
        spinner.add_node(node)
        sent = time.time_ns()
        publisher.publish(Float64MultiArray(data=[1.5]))
        deadline = time.monotonic() + 5.0
        while not received and time.monotonic() < deadline:
            spinner.spin_once(timeout_sec=0.05)
        (msg, info), = received
        assert list(msg.data) == [1.5] and info['source_timestamp'] >= sent
    finally:
        spinner.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def test_controller_process_answers_and_leaves_a_safe_command_on_sigterm(ros_graph,
                                                                         policies):
    """``ros2 run``'s path (spin_main): one answer per state, a zero command on SIGTERM."""
    env = LocomotionEnv('walker_7_main')
    env.reset(seed=2)
    expected = PolicyRuntime(policies['walker_7_main']).act(env.data.qpos,
                                                            env.data.qvel).commands
    stamp = stamp_from_ns(8_000_000)
    joints = joint_state_msg(env.robot, env.data, stamp)
    odometry = odometry_msg(env.robot, env.data.qpos, env.data.qvel, stamp)
    probe = ros_graph.add(Node('process_probe', context=ros_graph.context))
    joint_pub = probe.create_publisher(JointState, '/joint_states', qos.STATE_PUBLISHER)
    odom_pub = probe.create_publisher(Odometry, '/odom', qos.STATE_PUBLISHER)
    commands: list[np.ndarray] = []
    probe.create_subscription(Float64MultiArray, DEFAULT_COMMAND_TOPIC,
                              lambda msg: commands.append(np.array(msg.data)), qos.EVENTS)
    controller = subprocess.Popen(
        [sys.executable, '-m', 'synergy_control.ros.synergy_controller', '--ros-args',
         '-p', f"policy:={policies['walker_7_main']}", '-p', 'mode:=lockstep',
         '-p', 'watchdog_timeout:=30.0'], env=dict(os.environ))
    try:
        def answered() -> bool:  # states are read best-effort: re-send until answered
            odom_pub.publish(odometry)
            joint_pub.publish(joints)
            return bool(commands)
        assert ros_graph.spin_until(answered, 20.0)
        ros_graph.spin_for(0.2)
        assert len(commands) == 1 and np.allclose(commands[0], expected, atol=1e-9)
        controller.send_signal(signal.SIGTERM)
        assert controller.wait(timeout=10.0) == 0
        assert ros_graph.spin_until(lambda: len(commands) == 2, 2.0)
        assert np.array_equal(commands[1], np.zeros_like(expected))
    finally:
        controller.kill()
        controller.wait()
