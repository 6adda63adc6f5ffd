"""Environments: gymnasium-v5 equivalence, reward terms, termination vs truncation."""

import gymnasium
import mujoco
import numpy as np
import pytest

from synergy_control.envs import make_env


@pytest.mark.parametrize('variant,gym_id', [('walker_7_main', 'Walker2d-v5'),
                                            ('hopper_4', 'Hopper-v5')])
def test_full_models_equal_gymnasium_v5(variant, gym_id):
    ours, theirs = make_env(variant), gymnasium.make(gym_id)
    obs_a, _ = ours.reset(seed=7)
    obs_b, _ = theirs.reset(seed=7)
    np.testing.assert_array_equal(obs_a, obs_b)
    rng = np.random.default_rng(1)
    for _ in range(400):
        action = 0.3 * rng.uniform(-1, 1, ours.action_space.shape)
        a, ra, ta, _, _ = ours.step(action)
        b, rb, tb, _, _ = theirs.step(action)
        np.testing.assert_array_equal(a, b)
        assert ra == rb and ta == tb
        if ta:
            break


@pytest.mark.parametrize('variant,gym_id', [('half_cheetah', 'HalfCheetah-v5'), ('ant', 'Ant-v5')])
def test_cheetah_and_ant_dynamics_reward_termination_equal_gymnasium_v5(variant, gym_id):
    """Bit-equal but for the observation (ours clips qvel at 10; Ant-v5 adds cfrc_ext)."""
    ours, theirs = make_env(variant), gymnasium.make(gym_id).unwrapped
    joints = [theirs.model.joint(j).name for j in theirs.model.actuator_trnid[:, 0]]
    order = [ours.robot.joint_names.index(name) for name in joints]  # gymnasium's order
    ours.reset(seed=1)
    theirs.reset(seed=1)
    rng = np.random.default_rng(0)
    for _ in range(300):
        _, ra, ta, _, _ = ours.step(rng.uniform(-1, 1, ours.model.nu))
        _, rb, tb, _, _ = theirs.step(ours.data.ctrl[order])
        np.testing.assert_array_equal(ours.data.qpos, theirs.data.qpos)
        np.testing.assert_array_equal(ours.data.qvel, theirs.data.qvel)
        assert ra == rb and ta == tb
        if ta:
            break


def test_truncation_is_kept_apart_from_termination():
    env = make_env('half_cheetah', episode_steps=5)
    env.reset(seed=0)
    flags = [env.step(np.zeros(6))[2:4] for _ in range(5)]
    assert flags[-1] == (False, True) and all(f == (False, False) for f in flags[:-1])


def test_falling_walker_terminates_not_truncates():
    env = make_env('walker_7_main')
    env.reset(seed=0)
    for _ in range(1000):
        _, _, terminated, truncated, _ = env.step(np.ones(6))
        if terminated or truncated:
            break
    assert terminated and not truncated


def test_reward_is_forward_plus_alive_minus_control():
    env = make_env('walker_7_main')
    env.reset(seed=0)
    action = np.full(6, 0.5)
    _, reward, _, _, info = env.step(action)
    assert info['reward_ctrl'] == pytest.approx(-1e-3 * 6 * 0.25)
    assert reward == pytest.approx(info['x_velocity'] + 1.0 + info['reward_ctrl'])


def test_step_command_is_step_with_the_scaled_action():
    a, b = make_env('humanoid_2d_9_full'), make_env('humanoid_2d_9_full')
    a.reset(seed=3)
    b.reset(seed=3)
    action = np.linspace(-1, 1, 8)
    np.testing.assert_array_equal(a.step(action)[0],
                                  b.step_command(a.scaling.action_to_command(action))[0])


def test_nan_state_is_unhealthy():
    env = make_env('half_cheetah')
    env.reset(seed=0)
    env.data.qvel[0] = np.nan
    assert not env.is_healthy()


def test_modular_observation_size_is_19_per_limb():
    env = make_env('walker_5_main', obs_mode='modular')
    obs, _ = env.reset(seed=0)
    assert obs.shape == (19 * 5,) and env.observation_space.shape == obs.shape


def _humanoid_definition(model, qpos, qvel, ctrl) -> np.ndarray:
    """Humanoid-v5's derived observation terms, evaluated at the published state."""
    data = mujoco.MjData(model)
    data.qpos[:], data.qvel[:], data.ctrl[:] = qpos, qvel, ctrl
    mujoco.mj_forward(model, data)
    mujoco.mj_rnePostConstraint(model, data)
    return np.concatenate([data.cinert[1:].ravel(), data.cvel[1:].ravel(),
                           data.qfrc_actuator[6:], data.cfrc_ext[1:].ravel()])


def test_humanoid_equals_gymnasium_humanoid_v5():
    """Reward, its terms and termination bit-equal; observation as docs/environments.md says.

    qpos, qvel and qfrc_actuator are bit-equal. gymnasium reads cinert, cvel and cfrc_ext from
    MjData after mj_step, i.e. at the last RK4 stage of the last substep, a state the robot
    never publishes; ours are those of the published state (qpos, qvel, ctrl), which the policy
    node can rebuild. They equal that definition exactly; cinert stays within 1e-3 and cvel
    within 0.5 of gymnasium's (about one 3 ms stage of acceleration); contact forces are not
    compared (they jump when a contact opens or closes inside the stage).
    """
    ours, theirs = make_env('humanoid'), gymnasium.make('Humanoid-v5')
    names = [theirs.unwrapped.model.actuator(i).name for i in range(17)]
    order = [ours.robot.actuator_names.index(name) for name in names]  # gymnasium's order
    rng = np.random.default_rng(1)
    steps = 0
    for seed in range(3):
        obs_a, _ = ours.reset(seed=seed)
        obs_b, _ = theirs.reset(seed=seed)
        np.testing.assert_array_equal(obs_a, obs_b)
        for _ in range(200):
            a, ra, ta, _, info_a = ours.step(0.5 * rng.uniform(-1, 1, 17))
            b, rb, tb, _, info_b = theirs.step(ours.data.ctrl[order])
            steps += 1
            assert ra == rb and ta == tb
            for ours_key, gym_key in [('reward_objective', 'reward_forward'),
                                      ('reward_healthy', 'reward_survive'),
                                      ('reward_ctrl', 'reward_ctrl'),
                                      ('reward_contact', 'reward_contact')]:
                assert info_a[ours_key] == info_b[gym_key]
            model, data = theirs.unwrapped.model, theirs.unwrapped.data
            np.testing.assert_array_equal(a[:45], b[:45])  # qpos[2:], qvel
            np.testing.assert_array_equal(a[253:270], b[253:270])  # qfrc_actuator[6:]
            np.testing.assert_array_equal(
                a[45:], _humanoid_definition(model, data.qpos, data.qvel, data.ctrl))
            np.testing.assert_allclose(a[45:175], b[45:175], atol=1e-3)  # cinert
            np.testing.assert_allclose(a[175:253], b[175:253], atol=0.5)  # cvel
            if ta:
                break
    assert steps > 60


def test_humanoid_observation_is_rebuilt_from_state_and_last_command():
    """What the policy node computes from JointState + Odometry and its last command."""
    env = make_env('humanoid')
    env.reset(seed=2)
    rng = np.random.default_rng(0)
    for _ in range(30):
        command = env.scaling.action_to_command(rng.uniform(-1, 1, 17))
        obs, *_ = env.step_command(command)
        ctrl = env.scaling.command_to_ctrl(command)
        np.testing.assert_array_equal(env.observe(env.data.qpos, env.data.qvel, ctrl), obs)


def test_humanoid_ctrl_cost_is_on_the_ctrl_the_sim_receives():
    env = make_env('humanoid')
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.ones(17))
    assert info['reward_ctrl'] == pytest.approx(-0.1 * 17 * 0.4 ** 2)
