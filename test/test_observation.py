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


def test_half_cheetah_observes_unclipped_velocities_as_half_cheetah_v5():
    """HalfCheetah-v5 does not clip qvel (a fast gallop passes 10 rad/s); Walker2d/Hopper do."""
    import gymnasium
    robot = get_robot('half_cheetah')
    env = gymnasium.make('HalfCheetah-v5').unwrapped
    env.reset(seed=0)
    qvel = np.linspace(-30.0, 30.0, robot.model.nv)
    env.set_state(env.init_qpos, qvel)
    build = ObservationBuilder(robot, 'flat')
    np.testing.assert_array_equal(build(env.data.qpos, env.data.qvel), env._get_obs())
    assert build.velocity_clip is None and build.spec()['velocity_clip'] is None


def test_a_cards_velocity_clip_overrides_the_familys():
    """A policy trained on clipped velocities is served clipped ones (the card records it)."""
    robot = get_robot('half_cheetah')
    build = ObservationBuilder(robot, 'flat', velocity_clip=10.0)
    obs = build(robot.model.qpos0, np.full(robot.model.nv, 50.0))
    assert np.all(obs[8:] == 10.0) and build.spec()['velocity_clip'] == 10.0
    assert ObservationBuilder(get_robot('hopper_4'), 'flat').spec()['velocity_clip'] == 10.0


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


def per_limb_tokens(build: ObservationBuilder, qpos: np.ndarray,
                    qvel: np.ndarray) -> np.ndarray:
    """The modular observation as it was computed before it ran over the limbs at once.

    One ``mj_objectVelocity`` call and one scalar exponential map per limb: the vectorised
    builder must give exactly these values (bit for bit), since shipped SOLAR policies read them.
    """
    robot = build.robot
    model, data = robot.model, mujoco.MjData(robot.model)
    data.qpos[:], data.qvel[:] = qpos, qvel
    mujoco.mj_kinematics(model, data)
    mujoco.mj_comPos(model, data)
    mujoco.mj_comVel(model, data)
    tokens = np.zeros((len(robot.limbs), 19))
    torso_x = data.xpos[robot.limbs[0].body_id, 0]
    velocity = np.zeros(6)
    for i, limb in enumerate(robot.limbs):
        b = limb.body_id
        mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_XBODY, b, velocity, 0)
        tokens[i, 0:3] = data.xpos[b]
        tokens[i, 0] -= torso_x
        if not build.lateral_position:
            tokens[i, 1] = 0.0
        tokens[i, 3:6] = np.clip(velocity[3:], -10.0, 10.0)
        tokens[i, 6:9] = velocity[:3]
        q = data.xquat[b] if data.xquat[b, 0] >= 0 else -data.xquat[b]
        sin_half = np.linalg.norm(q[1:])
        if sin_half >= 1e-12:
            tokens[i, 9:12] = q[1:] / sin_half * (2.0 * np.arctan2(sin_half, q[0]))
        tokens[i, 12 + limb.limb_type] = 1.0
        if limb.joint is not None:
            joint = model.joint(limb.joint)
            low, high = joint.range
            tokens[i, 16] = (qpos[joint.qposadr[0]] - low) / (high - low)
            tokens[i, 17:19] = (180.0 + np.degrees([low, high])) / 360.0
    return tokens.reshape(-1)


def morphology_set_variants(*sets: str) -> list[str]:
    from synergy_control.robots import FAMILIES, MORPHOLOGY_SETS
    return [v.name for name in sets for v in FAMILIES[MORPHOLOGY_SETS[name]].variants]


@pytest.mark.parametrize('variant', morphology_set_variants('walker++', 'humanoid2d++'))
def test_modular_tokens_equal_the_per_limb_computation_bit_for_bit(variant):
    """Random states (wide poses, fast enough to clip, and states a random policy reaches)."""
    robot = get_robot(variant)
    build = ObservationBuilder(robot, 'modular')
    model, data = robot.model, mujoco.MjData(robot.model)
    rng = np.random.default_rng(5)
    states = []
    for _ in range(20):
        states.append((model.qpos0 + rng.uniform(-1.5, 1.5, model.nq),
                       rng.uniform(-15.0, 15.0, model.nv)))
    for _ in range(20):
        data.ctrl[:] = rng.uniform(-1, 1, model.nu)
        mujoco.mj_step(model, data, nstep=8)
        states.append((data.qpos.copy(), data.qvel.copy()))
    clipped = 0
    for qpos, qvel in states:
        expected = per_limb_tokens(build, qpos, qvel)
        np.testing.assert_array_equal(build(qpos, qvel), expected)
        clipped += np.sum(np.abs(expected.reshape(-1, 19)[:, 3:6]) == 10.0)
    assert clipped > 0  # the clip was exercised


def test_expmap_of_rows_equals_each_row_and_keeps_non_finite_rows_non_finite():
    rng = np.random.default_rng(4)
    quats = rng.normal(size=(50, 4))
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    quats[0] = [1.0, 0.0, 0.0, 0.0]  # no rotation: zeros
    quats[1] = [-0.6, 0.0, 0.8, 0.0]  # w < 0: the same rotation as its negation
    quats[2] = np.nan
    rows = quat_to_expmap(quats)
    np.testing.assert_array_equal(rows[0], 0.0)
    np.testing.assert_array_equal(rows[1], quat_to_expmap(-quats[1]))
    assert np.all(np.isnan(rows[2]))
    for quat, row in zip(quats[3:], rows[3:]):
        np.testing.assert_array_equal(quat_to_expmap(quat), row)


# ---------------------------------------------------------------------- lateral position
MIRRORS = [('humanoid_2d_7_right_leg', 'humanoid_2d_7_left_leg'),
           ('humanoid_2d_7_left_arm', 'humanoid_2d_7_right_arm')]


@pytest.mark.parametrize('trained, mirror', MIRRORS)
def test_a_planar_humanoid_and_its_mirror_image_get_the_same_tokens(trained, mirror):
    """The zero-shot humanoids are mirror images of training ones: in the same joint state
    their tokens differed only in the lateral position, which names a side and nothing else."""
    robot, image = get_robot(trained), get_robot(mirror)
    assert robot.model.nq == image.model.nq
    rng = np.random.default_rng(3)
    qpos = robot.model.qpos0 + rng.uniform(-0.5, 0.5, robot.model.nq)
    qvel = rng.normal(size=robot.model.nv)
    tokens = {name: ObservationBuilder(get_robot(name), 'modular')(qpos, qvel)
              for name in (trained, mirror)}
    np.testing.assert_array_equal(tokens[trained], tokens[mirror])
    sided = {name: ObservationBuilder(get_robot(name), 'modular', lateral_position=True)(
        qpos, qvel).reshape(-1, 19) for name in (trained, mirror)}
    differs = np.argwhere(sided[trained] != sided[mirror])
    assert len(differs) and set(differs[:, 1]) == {1}  # pos_y, nothing else


def test_the_lateral_position_is_the_familys_and_recorded_only_when_dropped():
    walker = ObservationBuilder(get_robot('walker_7_main'), 'modular')
    humanoid = ObservationBuilder(get_robot('humanoid_2d_9_full'), 'modular')
    assert walker.lateral_position and 'lateral_position' not in walker.spec()
    assert not humanoid.lateral_position and humanoid.spec()['lateral_position'] is False
    robot = get_robot('humanoid_2d_9_full')
    tokens = humanoid(robot.model.qpos0, np.zeros(robot.model.nv)).reshape(-1, 19)
    assert not tokens[:, 1].any()
    sided = ObservationBuilder(robot, 'modular', lateral_position=True)
    assert sided(robot.model.qpos0, np.zeros(robot.model.nv)).reshape(-1, 19)[:, 1].any()
