"""Environments: gymnasium-v5 equivalence, reward terms, termination vs truncation."""

import gymnasium
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
