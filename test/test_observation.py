"""Observation layouts: the SMP 19-value limb token and the gymnasium flat vector."""

import mujoco
import numpy as np
import pytest

from synergy_control.observation import ObservationBuilder, quat_to_expmap
from synergy_control.robots import get_robot


def test_expmap_of_a_rotation_about_y():
    angle = 0.7
    quat = np.array([np.cos(angle / 2), 0, np.sin(angle / 2), 0])
    np.testing.assert_allclose(quat_to_expmap(quat), [0, angle, 0], atol=1e-12)
    np.testing.assert_allclose(quat_to_expmap(-quat), [0, angle, 0], atol=1e-12)


def test_modular_token_contents_for_the_walker():
    robot = get_robot('walker_7_main')
    build = ObservationBuilder(robot, 'modular')
    rng = np.random.default_rng(0)
    qpos = robot.model.qpos0 + rng.uniform(-0.1, 0.1, robot.model.nq)
    qvel = rng.uniform(-1, 1, robot.model.nv)
    tokens = build(qpos, qvel).reshape(7, 19)
    data = mujoco.MjData(robot.model)
    data.qpos[:], data.qvel[:] = qpos, qvel
    mujoco.mj_forward(robot.model, data)
    thigh = robot.limbs[1]
    np.testing.assert_allclose(tokens[1, :3], data.xpos[thigh.body_id] -
                               [data.xpos[1, 0], 0, 0])
    assert tokens[0, 0] == 0.0  # x relative to the torso
    np.testing.assert_array_equal(tokens[0, 12:16], [1, 0, 0, 0])  # torso type
    np.testing.assert_array_equal(tokens[1, 12:16], [0, 1, 0, 0])  # thigh type
    low, high = robot.model.joint('thigh_joint').range
    assert tokens[1, 16] == pytest.approx((qpos[3] - low) / (high - low))
    np.testing.assert_allclose(tokens[1, 17:19], (180 + np.degrees([low, high])) / 360)
    np.testing.assert_array_equal(tokens[0, 16:19], 0.0)
    # angular velocity of the torso about y is the root hinge rate
    assert tokens[0, 7] == pytest.approx(qvel[2])


def test_flat_observation_clips_velocities():
    robot = get_robot('hopper_4')
    build = ObservationBuilder(robot, 'flat')
    qvel = np.full(robot.model.nv, 50.0)
    obs = build(robot.model.qpos0, qvel)
    assert obs.shape == (11,) and np.all(obs[5:] == 10.0)


def test_modular_refuses_limbs_with_several_joints():
    with pytest.raises(ValueError, match='one hinge per limb'):
        ObservationBuilder(get_robot('humanoid'), 'modular')


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="'flat', 'modular'"):
        ObservationBuilder(get_robot('hopper_4'), 'pixels')


def smp_limb_token(model: mujoco.MjModel, data: mujoco.MjData, body: str) -> np.ndarray:
    """SMP's ``_get_obs_per_limb`` (modular-rl ModularEnv), written from its definition.

    mujoco-py's ``get_body_xvelp`` / ``get_body_xvelr`` are the Jacobians of the body frame's
    origin (``mj_jacBody``) times qvel.
    """
    b = model.body(body).id
    jacp, jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
    mujoco.mj_jacBody(model, data, jacp, jacr, b)
    xpos = data.xpos[b].copy()
    xpos[0] -= data.xpos[model.body('torso').id, 0]
    limb_type = {'torso': 0, 'thigh': 1, 'leg': 2, 'foot': 3}
    one_hot = np.eye(4)[next(v for k, v in limb_type.items() if k in body)]
    if body == 'torso':
        angle, joint_range = 0.0, np.zeros(2)
    else:
        joint = model.body_jntadr[b]
        degrees = np.degrees(data.qpos[model.jnt_qposadr[joint]])
        joint_range = np.degrees(model.jnt_range[joint])
        angle = (degrees - joint_range[0]) / (joint_range[1] - joint_range[0])
        joint_range = (180.0 + joint_range) / 360.0
    return np.concatenate([xpos, np.clip(jacp @ data.qvel, -10, 10), jacr @ data.qvel,
                           quat_to_expmap(data.xquat[b]), one_hot, [angle], joint_range])


@pytest.mark.parametrize('variant', ['walker_7_main', 'walker_4_main'])
def test_modular_tokens_equal_smps_per_limb_definition(variant):
    robot = get_robot(variant)
    build = ObservationBuilder(robot, 'modular')
    data = mujoco.MjData(robot.model)
    rng = np.random.default_rng(1)
    for _ in range(5):
        data.qpos[:] = robot.model.qpos0 + rng.uniform(-0.3, 0.3, robot.model.nq)
        data.qvel[:] = rng.uniform(-4, 4, robot.model.nv)
        mujoco.mj_forward(robot.model, data)
        tokens = build(data.qpos, data.qvel).reshape(len(robot.limbs), 19)
        for token, limb in zip(tokens, robot.limbs):
            np.testing.assert_allclose(token, smp_limb_token(robot.model, data, limb.name),
                                       atol=1e-9, err_msg=limb.name)


def test_humanoid_flat_layout_is_gymnasium_humanoid_v5s():
    build = ObservationBuilder(get_robot('humanoid'), 'flat')
    spec = build.spec()
    assert build.size == spec['size'] == 348 and build.needs_ctrl
    assert [(t['term'], t['start'], len(t['names'])) for t in spec['layout']] == [
        ('qpos', 0, 22), ('qvel', 22, 23), ('cinert', 45, 130), ('cvel', 175, 78),
        ('qfrc_actuator', 253, 17), ('cfrc_ext', 270, 78)]
    assert spec['velocity_clip'] is None  # Humanoid-v5 does not clip qvel
    assert spec['layout'][4]['names'][:2] == ['abdomen_z', 'abdomen_y']  # dof order
    assert spec['layout'][2]['names'][0] == 'torso[0]'


def test_existing_flat_layouts_need_no_ctrl():
    for variant in ('walker_7_main', 'hopper_4', 'half_cheetah', 'ant', 'humanoid_2d_9_full'):
        assert not ObservationBuilder(get_robot(variant), 'flat').needs_ctrl


@pytest.mark.parametrize('ctrl, message', [(None, 'needs the ctrl'),
                                           (np.zeros(3), 'must be 17 finite values'),
                                           (np.full(17, np.nan), 'must be 17 finite values')])
def test_humanoid_observation_refuses_a_missing_or_bad_ctrl(ctrl, message):
    robot = get_robot('humanoid')
    with pytest.raises(ValueError, match=message):
        ObservationBuilder(robot, 'flat')(robot.model.qpos0, np.zeros(robot.model.nv), ctrl)


def test_humanoid_observation_depends_on_the_state_and_ctrl_alone():
    """Same (qpos, qvel, ctrl), same observation, whatever was built before (lying, contacts)."""
    robot = get_robot('humanoid')
    build = ObservationBuilder(robot, 'flat')
    data = mujoco.MjData(robot.model)
    rng = np.random.default_rng(3)
    states, contacts = [], 0
    for _ in range(40):
        data.ctrl[:] = 0.4 * rng.uniform(-1, 1, robot.model.nu)
        mujoco.mj_step(robot.model, data, nstep=25)
        states.append((data.qpos.copy(), data.qvel.copy(), data.ctrl.copy()))
        contacts = max(contacts, data.ncon)
    assert contacts >= 4
    first = [build(*state) for state in states]
    for state, expected in zip(reversed(states), reversed(first)):
        np.testing.assert_array_equal(build(*state), expected)
    assert np.abs(np.concatenate(first)[-78:]).max() > 0  # contact forces present
