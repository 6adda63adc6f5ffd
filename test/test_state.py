"""ROS-shaped state (named joints + odometry) rebuilds the exact policy observation."""

import mujoco
import numpy as np
import pytest

from synergy_control.observation import ObservationBuilder
from synergy_control.robots import get_robot
from synergy_control.state import (JointMatcher, StateError, qpos_qvel_from_state,
                                   root_state_from_qpos)


def random_state(robot, rng):
    qpos = robot.model.qpos0 + rng.uniform(-0.3, 0.3, robot.model.nq)
    if robot.root.kind == 'free':
        quat = rng.normal(size=4)
        qpos[3:7] = quat / np.linalg.norm(quat)
    return qpos, rng.uniform(-2, 2, robot.model.nv)


@pytest.mark.parametrize('variant,mode', [('walker_7_main', 'flat'), ('walker_7_main', 'modular'),
                                          ('humanoid_2d_7_left_leg', 'modular'),
                                          ('ant', 'modular'), ('ant', 'flat')])
def test_observation_from_ros_state_equals_the_environments(variant, mode):
    robot = get_robot(variant)
    build = ObservationBuilder(robot, mode)
    rng = np.random.default_rng(4)
    for _ in range(20):
        qpos, qvel = random_state(robot, rng)
        root = root_state_from_qpos(robot, qpos, qvel)
        order = rng.permutation(len(robot.joint_names))
        names = [robot.joint_names[i] for i in order] + ['unrelated_joint']
        positions = list(qpos[robot.joint_qpos_adr][order]) + [0.0]
        velocities = list(qvel[robot.joint_qvel_adr][order]) + [0.0]
        q, dq = JointMatcher(robot.joint_names).match(names, positions, velocities)
        qpos2, qvel2 = qpos_qvel_from_state(robot, q, dq, root)
        np.testing.assert_allclose(build(qpos2, qvel2), build(qpos, qvel), atol=1e-12)


def test_odometry_orientation_is_the_bodys_xquat_in_xyzw_order():
    robot = get_robot('walker_7_main')
    qpos, qvel = random_state(robot, np.random.default_rng(0))
    data = mujoco.MjData(robot.model)
    data.qpos[:] = qpos
    mujoco.mj_kinematics(robot.model, data)
    root = root_state_from_qpos(robot, qpos, qvel)
    w, x, y, z = data.xquat[1]
    np.testing.assert_allclose(root.orientation_xyzw, [x, y, z, w], atol=1e-12)
    np.testing.assert_allclose(root.position, data.xpos[1], atol=1e-12)


def test_missing_joints_are_named():
    matcher = JointMatcher(['a', 'b', 'c'])
    with pytest.raises(StateError, match=r"\['c'\]"):
        matcher.match(['a', 'b'], [0.0, 0.0], [0.0, 0.0])


def test_non_finite_joint_values_are_refused():
    matcher = JointMatcher(['a', 'b'])
    with pytest.raises(StateError, match=r"non-finite values for \['b'\]"):
        matcher.match(['b', 'a'], [np.nan, 0.0], [0.0, 0.0])


def test_length_mismatch_is_refused():
    with pytest.raises(StateError, match='2 names but 1 positions'):
        JointMatcher(['a', 'b']).match(['a', 'b'], [0.0], [0.0, 0.0])


def test_zero_quaternion_is_refused():
    robot = get_robot('walker_7_main')
    root = root_state_from_qpos(robot, robot.model.qpos0, np.zeros(robot.model.nv))
    root.orientation_xyzw = np.zeros(4)
    with pytest.raises(StateError, match='unit quaternion'):
        qpos_qvel_from_state(robot, np.zeros(6), np.zeros(6), root)
