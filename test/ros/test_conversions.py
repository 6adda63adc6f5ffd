"""Message builders and parsers: exact round trips, refusals, true marker shapes."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest
from std_msgs.msg import Float64MultiArray
from visualization_msgs.msg import Marker

from synergy_control.envs import LocomotionEnv
from synergy_control.ros.conversions import (CommandError, GeomMarkers, answered_stamp,
                                             clock_msg, command_msg, ctrl_from_msg,
                                             diagnostic_status, joint_state_msg, odometry_msg,
                                             parse_command, robot_state_from_msgs,
                                             root_state_from_odometry, stamp_from_ns,
                                             stamp_to_ns, status_values)
from synergy_control.state import StateError, StateReader


@pytest.mark.parametrize('robot', ['walker_7_main', 'half_cheetah', 'ant'])
def test_state_messages_round_trip(robot):
    env = LocomotionEnv(robot)
    env.reset(seed=4)
    for _ in range(10):
        env.step(np.full(env.model.nu, 0.4))
    stamp = stamp_from_ns(1_234_567_890_123)
    joints = joint_state_msg(env.robot, env.data, stamp)
    odom = odometry_msg(env.robot, env.data.qpos, env.data.qvel, stamp)
    assert list(joints.name) == env.robot.joint_names
    assert np.allclose(joints.effort, env.data.qfrc_actuator[env.robot.joint_qvel_adr])
    assert odom.header.frame_id == 'world' and odom.child_frame_id == env.robot.limbs[0].name
    qpos, qvel = robot_state_from_msgs(StateReader(env.robot), joints, odom)
    assert np.allclose(qpos, env.data.qpos, atol=1e-12)
    assert np.allclose(qvel, env.data.qvel, atol=1e-12)


def test_odometry_with_non_finite_values_is_refused():
    env = LocomotionEnv('walker_7_main')
    env.reset(seed=0)
    odom = odometry_msg(env.robot, env.data.qpos, env.data.qvel, stamp_from_ns(0))
    odom.twist.twist.linear.x = math.inf
    odom.pose.pose.orientation.w = math.nan
    with pytest.raises(StateError, match=r"non-finite values in \['pose.orientation.w', "
                                         r"'twist.linear.x'\]"):
        root_state_from_odometry(odom)


def test_stamps_and_clock():
    for ns in (0, 8_000_000, 12_345_678_901_234):
        assert stamp_to_ns(stamp_from_ns(ns)) == ns
        assert stamp_to_ns(clock_msg(ns).clock) == ns


def test_commands_name_the_state_they_answer():
    msg = command_msg([1.0, 2.0, 3.0], 1_234_567_890_123)
    assert list(msg.data) == [1.0, 2.0, 3.0]  # forward_command_controller reads only these
    assert (msg.layout.dim[0].size, msg.layout.dim[0].stride) == (3, 3)
    assert answered_stamp(msg) == 1_234_567_890_123
    assert command_msg([0.0] * 3, None, msg) is msg and answered_stamp(msg) is None
    assert answered_stamp(command_msg([0.0] * 3, 8_000_000, msg)) == 8_000_000
    assert answered_stamp(Float64MultiArray(data=[0.0])) is None
    msg.layout.dim[0].label = 'answers_stamp_ns=soon'
    assert answered_stamp(msg) is None


@pytest.mark.parametrize('data, message', [
    ([1.0, 2.0], 'has 2 values, expected 3'),
    ([1.0, math.nan, 0.0], 'non-finite values at indices \\[1\\]'),
    ([math.inf, 0.0, -math.inf], 'non-finite values at indices \\[0, 2\\]'),
])
def test_bad_commands_are_refused(data, message):
    with pytest.raises(CommandError, match=message):
        parse_command(Float64MultiArray(data=data), 3)


def test_good_command_is_parsed():
    assert parse_command(Float64MultiArray(data=[1.0, -2.5, 0.0]), 3).tolist() == [1, -2.5, 0]


def test_diagnostic_floats_parse_back_exactly():
    value = 0.1 + 0.2
    status = diagnostic_status('x', b'\x00', 'ok', {'return': value, 'n': 3, 'flag': True})
    values = status_values(status)
    assert float(values['return']) == value and values['n'] == '3' and values['flag'] == 'True'


SHAPES = """
<mujoco>
  <worldbody>
    <geom name="floor" type="plane" size="5 5 0.1"/>
    <body pos="0 0 1">
      <freejoint/>
      <geom name="capsule" type="capsule" fromto="0 0 0 0.4 0 0" size="0.05" rgba="1 0 0 1"/>
      <geom name="box" type="box" pos="0 0.5 0" size="0.1 0.2 0.3"/>
      <geom name="sphere" type="sphere" pos="0 -0.5 0" size="0.07"/>
      <geom name="cylinder" type="cylinder" pos="0.5 0.5 0" size="0.03 0.15"/>
      <geom name="ellipsoid" type="ellipsoid" pos="0.5 -0.5 0" size="0.1 0.2 0.05"/>
      <geom name="ghost" type="sphere" size="0.2" rgba="0 0 0 0"/>
    </body>
  </worldbody>
</mujoco>
"""


def test_markers_have_true_shapes_and_sizes():
    model = mujoco.MjModel.from_xml_string(SHAPES)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    markers = GeomMarkers(model)(data, stamp_from_ns(5)).markers
    assert len(markers) == 3 + 4  # capsule = cylinder + 2 spheres; no floor, no ghost
    assert all(m.header.frame_id == 'world' and m.ns == 'geoms' for m in markers)
    assert len({m.id for m in markers}) == len(markers)

    def scale(m: Marker) -> list[float]:
        return [m.scale.x, m.scale.y, m.scale.z]

    def position(m: Marker) -> np.ndarray:
        return np.array([m.pose.position.x, m.pose.position.y, m.pose.position.z])

    cylinder, end_a, end_b = markers[:3]
    assert cylinder.type == Marker.CYLINDER and np.allclose(scale(cylinder), [0.1, 0.1, 0.4])
    assert cylinder.color.r == 1.0 and cylinder.color.g == 0.0
    ends = sorted([position(end_a), position(end_b)], key=lambda p: p[0])
    assert end_a.type == end_b.type == Marker.SPHERE and np.allclose(scale(end_a), [0.1] * 3)
    assert np.allclose(ends[0], [0, 0, 1]) and np.allclose(ends[1], [0.4, 0, 1])
    # cylinder axis (marker z) along world x: the capsule's fromto direction
    q = cylinder.pose.orientation
    rotation = np.zeros(9)
    mujoco.mju_quat2Mat(rotation, np.array([q.w, q.x, q.y, q.z]))
    assert np.allclose(np.abs(rotation.reshape(3, 3)[:, 2]), [1, 0, 0])
    box, sphere, cyl, ellipsoid = markers[3:]
    assert box.type == Marker.CUBE and np.allclose(scale(box), [0.2, 0.4, 0.6])
    assert np.allclose(position(box), [0, 0.5, 1])
    assert sphere.type == Marker.SPHERE and np.allclose(scale(sphere), [0.14] * 3)
    assert cyl.type == Marker.CYLINDER and np.allclose(scale(cyl), [0.06, 0.06, 0.3])
    assert ellipsoid.type == Marker.SPHERE and np.allclose(scale(ellipsoid), [0.2, 0.4, 0.1])


def test_robot_markers_follow_the_simulation():
    env = LocomotionEnv('walker_7_main')
    env.reset(seed=0)
    markers = GeomMarkers(env.model)
    before = markers(env.data, stamp_from_ns(0)).markers
    for _ in range(20):
        env.step(np.ones(env.model.nu))
    after = markers(env.data, stamp_from_ns(1)).markers
    assert len(before) == len(after) == len(markers) > 0
    assert any(b.pose.position != a.pose.position for b, a in zip(before, after))


@pytest.mark.parametrize('robot,mode', [('walker_7_main', 'flat'), ('walker_7_main', 'modular'),
                                        ('humanoid_2d_9_full', 'modular'), ('ant', 'modular'),
                                        ('humanoid', 'flat')])
def test_observation_from_messages_equals_the_environments(robot, mode):
    env = LocomotionEnv(robot, obs_mode=mode)
    rng = np.random.default_rng(11)
    for episode in range(5):
        env.reset(seed=episode)
        for _ in range(int(rng.integers(1, 30))):
            env.step(rng.uniform(-1, 1, env.model.nu))
        stamp = stamp_from_ns(episode)
        joints = joint_state_msg(env.robot, env.data, stamp)
        order = rng.permutation(len(joints.name))  # any joint order is accepted
        joints.name = [joints.name[i] for i in order]
        joints.position = [joints.position[i] for i in order]
        joints.velocity = [joints.velocity[i] for i in order]
        joints.effort = [joints.effort[i] for i in order]
        odom = odometry_msg(env.robot, env.data.qpos, env.data.qvel, stamp)
        reader = StateReader(env.robot)
        qpos, qvel = robot_state_from_msgs(reader, joints, odom)
        # the humanoid's observation also needs the ctrl in force: from the applied efforts
        ctrl = ctrl_from_msg(reader, env.scaling, joints) if env.observe.needs_ctrl else None
        np.testing.assert_allclose(env.observe(qpos, qvel, ctrl), env.observation(), atol=1e-9)
