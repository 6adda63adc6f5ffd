"""ROS-shaped state (named joints + odometry) rebuilds the exact policy observation."""

import math

import mujoco
import numpy as np
import pytest

from synergy_control.envs import LocomotionEnv
from synergy_control.observation import ObservationBuilder
from synergy_control.robots import get_robot
from synergy_control.state import (JointMatcher, RootState, StateError, StateReader,
                                   qpos_qvel_from_state, root_state_from_qpos,
                                   with_unit_root_quaternion)


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
        # A stream that continues from this orientation (the quaternion's sign is no data).
        qpos2, qvel2 = qpos_qvel_from_state(robot, q, dq, root, previous_qpos=qpos)
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


def _flipped(root: RootState) -> RootState:
    return RootState(root.position, -root.orientation_xyzw, root.linear_velocity,
                     root.angular_velocity)


def _read(reader: StateReader, qpos: np.ndarray, qvel: np.ndarray, flip: bool = False):
    robot = reader.robot
    root = root_state_from_qpos(robot, qpos, qvel)
    return reader.read(robot.joint_names, qpos[robot.joint_qpos_adr],
                       qvel[robot.joint_qvel_adr], _flipped(root) if flip else root)


@pytest.mark.parametrize('variant', ['walker_7_main', 'half_cheetah', 'ant'])
def test_quaternion_sign_does_not_change_the_state(variant):
    robot = get_robot(variant)
    rng = np.random.default_rng(5)
    for _ in range(10):
        qpos, qvel = random_state(robot, rng)
        fresh = [_read(StateReader(robot), qpos, qvel, flip) for flip in (False, True)]
        np.testing.assert_array_equal(fresh[0][0], fresh[1][0])
        np.testing.assert_array_equal(fresh[0][1], fresh[1][1])
        streamed = StateReader(robot)
        _read(streamed, qpos, qvel)
        np.testing.assert_allclose(_read(streamed, qpos, qvel, flip=True)[0], fresh[0][0],
                                   atol=1e-12)


def test_planar_pitch_stays_continuous_past_pi_and_restarts_after_a_reset():
    robot = get_robot('half_cheetah')
    pitch_index = robot.root.qpos_adr[2]
    qpos, qvel = robot.model.qpos0.copy(), np.zeros(robot.model.nv)
    reader = StateReader(robot)
    for pitch in np.linspace(0.0, 4.0, 41):  # past pi, 0.1 rad per state
        qpos[pitch_index] = pitch
        for flip in (False, True):
            assert _read(reader, qpos, qvel, flip)[0][pitch_index] == pytest.approx(pitch)
    qpos[pitch_index] = 0.05  # reset: no robot turns 2 rad between two states
    assert _read(reader, qpos, qvel, flip=True)[0][pitch_index] == pytest.approx(0.05)


def test_free_root_quaternion_sign_follows_the_stream():
    robot = get_robot('ant')
    p = robot.root.qpos_adr[0] + 3
    qpos, qvel = robot.model.qpos0.copy(), np.zeros(robot.model.nv)
    reader = StateReader(robot)
    for angle in np.linspace(0.0, 1.5 * 2 * math.pi, 60):  # past w = 0: w turns negative
        qpos[p:p + 4] = [math.cos(angle / 2), math.sin(angle / 2), 0.0, 0.0]
        np.testing.assert_allclose(_read(reader, qpos, qvel, flip=angle > 3)[0][p:p + 4],
                                   qpos[p:p + 4], atol=1e-12)


@pytest.mark.parametrize('variant', ['walker_7_main', 'half_cheetah', 'ant', 'hopper_4'])
def test_states_of_real_episodes_are_plausible(variant):
    env = LocomotionEnv(variant)
    reader = StateReader(env.robot)
    rng = np.random.default_rng(2)
    for episode in range(3):
        env.reset(seed=episode)
        for _ in range(300):
            _, _, terminated, _, _ = env.step(rng.uniform(-1, 1, env.model.nu))
            _read(reader, env.data.qpos, env.data.qvel)
            if terminated:
                break


@pytest.mark.parametrize('field, index, value, message', [
    ('qpos', 'foot_left_joint', 1e30, 'foot_left_joint position 1e\\+30'),
    ('qpos', 'thigh_joint', -4.0, 'thigh_joint position -4 rad'),
    ('qvel', 'leg_joint', 1e30, 'leg_joint velocity 1e\\+30'),
    ('qvel', 'leg_joint', -250.0, 'leg_joint velocity -250'),
])
def test_implausible_joint_values_are_refused_by_name(field, index, value, message):
    robot = get_robot('walker_7_main')
    qpos, qvel = robot.model.qpos0.copy(), np.zeros(robot.model.nv)
    joint = robot.model.joint(index)
    (qpos if field == 'qpos' else qvel)[
        joint.qposadr[0] if field == 'qpos' else joint.dofadr[0]] = value
    with pytest.raises(StateError, match=message):
        _read(StateReader(robot), qpos, qvel)


@pytest.mark.parametrize('part, axis, value, message', [
    ('position', 2, 1e30, 'pose.position.z 1e\\+30 m'),
    ('position', 2, -2.0, 'pose.position.z -2 m'),
    ('position', 0, 1e30, 'pose.position.x'),
    ('linear_velocity', 0, 1e30, 'twist.linear.x'),
    ('angular_velocity', 1, -1e30, 'twist.angular.y'),
])
def test_implausible_odometry_is_refused_by_field(part, axis, value, message):
    robot = get_robot('walker_7_main')
    qpos, qvel = robot.model.qpos0.copy(), np.zeros(robot.model.nv)
    root = root_state_from_qpos(robot, qpos, qvel)
    getattr(root, part)[axis] = value
    with pytest.raises(StateError, match=message):
        StateReader(robot).read(robot.joint_names, qpos[robot.joint_qpos_adr],
                                qvel[robot.joint_qvel_adr], root)


def test_duplicate_joint_names_are_named():
    with pytest.raises(StateError, match=r"duplicates: \['b'\]"):
        JointMatcher(['a', 'b']).match(['a', 'b', 'b'], [0.0] * 3, [0.0] * 3)


def test_a_batch_of_states_gets_each_states_own_unit_quaternion():
    env = LocomotionEnv('humanoid')
    states = []
    for seed in range(6):
        env.reset(seed=seed)
        states.append(env.data.qpos.copy())
    states[2][3:7] /= np.linalg.norm(states[2][3:7])  # one state already unit, as odometry's
    states = np.array(states)
    unit = with_unit_root_quaternion(env.robot, states)
    for row, state in zip(unit, states):
        np.testing.assert_array_equal(row, with_unit_root_quaternion(env.robot, state))
    already = unit[[2]]  # nothing to scale: no copy
    assert with_unit_root_quaternion(env.robot, already) is already


def test_reset_quaternion_off_unit_length_is_given_to_the_policy_as_the_odometry_has_it():
    env = LocomotionEnv('humanoid')
    env.reset(seed=7)
    qpos = env.data.qpos.copy()
    assert abs(np.linalg.norm(qpos[3:7]) - 1.0) > 1e-3  # gymnasium's reset noise
    unit = with_unit_root_quaternion(env.robot, qpos)
    np.testing.assert_allclose(unit[3:7], qpos[3:7] / np.linalg.norm(qpos[3:7]), rtol=1e-15)
    np.testing.assert_array_equal(np.delete(unit, range(3, 7)), np.delete(qpos, range(3, 7)))
    np.testing.assert_array_equal(env.data.qpos, qpos)  # the caller's state is not touched
    reader = StateReader(env.robot)
    rebuilt, _ = reader.read(env.robot.joint_names, qpos[env.robot.joint_qpos_adr],
                             env.data.qvel[env.robot.joint_qvel_adr],
                             root_state_from_qpos(env.robot, qpos, env.data.qvel))
    np.testing.assert_allclose(rebuilt, unit, atol=1e-15)
    walker = get_robot('walker_7_main')  # a planar root has no quaternion in qpos
    assert with_unit_root_quaternion(walker, walker.model.qpos0) is walker.model.qpos0
