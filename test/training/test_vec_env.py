"""Vectorised environments: auto-reset keeps the final observation, termination and
truncation stay apart, a set's environments cycle through its robots."""

import numpy as np
import pytest

from synergy_control.envs import make_env
from synergy_control.training.vec_env import VectorEnv


def _fall(envs: VectorEnv, reference, steps: int = 400):
    """Step env 0 and an identical single env with the same actions until env 0 ends."""
    rng = np.random.default_rng(1)
    for _ in range(steps):
        action = rng.uniform(-1, 1, (envs.num_envs, envs.act_dim)).astype(np.float32)
        step = envs.step(action)
        expected = reference.step(action[0])
        if step.terminated[0] or step.truncated[0]:
            return step, expected
        np.testing.assert_array_equal(step.obs[0], expected[0].astype(np.float32))
    raise AssertionError('env 0 never finished an episode')


def test_auto_reset_returns_the_final_observation_and_starts_a_new_episode():
    envs = VectorEnv(['hopper_4'], 2)
    envs.reset(seed=3)
    reference = make_env('hopper_4')
    reference.reset(seed=3)
    step, (final, reward, terminated, _, _) = _fall(envs, reference)
    assert terminated and step.terminated[0] and not step.truncated[0]
    np.testing.assert_array_equal(step.final_obs[0], final.astype(np.float32))
    assert step.reward[0] == reward
    # the returned observation is the next episode's first, drawn from env 0's own stream
    np.testing.assert_array_equal(step.obs[0], reference.reset()[0].astype(np.float32))
    episode = next(e for e in step.episodes if e.env_index == 0)
    assert episode.name == 'hopper_4' and episode.length > 0


def test_a_time_limit_is_reported_as_truncation_not_termination():
    envs = VectorEnv(['half_cheetah'], 1)  # never terminates
    envs.reset(seed=0)
    envs.envs[0].episode_steps = 5
    zeros = np.zeros((1, envs.act_dim), np.float32)
    steps = [envs.step(zeros) for _ in range(5)]
    assert not any(s.truncated[0] or s.terminated[0] for s in steps[:4])
    assert steps[4].truncated[0] and not steps[4].terminated[0]
    assert np.any(steps[4].final_obs[0] != 0) and steps[4].episodes[0].length == 5
    assert np.all(steps[3].final_obs == 0)


def test_a_set_cycles_through_its_robots_padded_to_the_widest():
    envs = VectorEnv(['walker_2_main', 'walker_7_main'], 3, obs_mode='modular')
    obs = envs.reset(seed=0)
    assert list(envs.entry) == [0, 1, 0]
    assert obs.shape == (3, envs.obs_dim) and envs.obs_dim == max(envs.obs_dims)
    narrow = envs.obs_dims[0]
    assert narrow < envs.obs_dim and np.all(obs[0, narrow:] == 0)
    step = envs.step(np.zeros((3, envs.act_dim), np.float32))
    assert np.all(step.obs[2, narrow:] == 0)


@pytest.mark.parametrize('names, num_envs, obs_mode, episode_steps', [
    (['walker_7_main'], 3, 'flat', None),
    (['humanoid'], 3, 'flat', None),  # flat extras: cinert, cvel, qfrc_actuator, cfrc_ext
    (['walker_2_main', 'walker_4_main', 'walker_5_main', 'walker_7_main'], 6, 'modular', None),
    (['half_cheetah@vel:3'], 2, 'flat', 25),  # a task entry; never terminates: truncation
])
def test_a_vector_env_equals_separate_envs_bit_for_bit(names, num_envs, obs_mode,
                                                       episode_steps):
    """Observations, rewards, flags, final observations and resets of N separate envs."""
    envs = VectorEnv(names, num_envs, obs_mode=obs_mode)
    singles = [make_env(names[i % len(names)], obs_mode) for i in range(num_envs)]
    if episode_steps is not None:
        for env in envs.envs + singles:
            env.episode_steps = episode_steps
    obs = envs.reset(seed=7)
    expected = [single.reset(seed=7 + 1000 * i)[0] for i, single in enumerate(singles)]
    rng = np.random.default_rng(2)
    finished = 0
    for _ in range(60):
        for i, single in enumerate(singles):
            np.testing.assert_array_equal(obs[i, :envs.obs_dims[i]],
                                          expected[i].astype(np.float32))
        actions = rng.uniform(-1, 1, (num_envs, envs.act_dim)).astype(np.float32)
        step = envs.step(actions)
        for i, single in enumerate(singles):
            final, reward, terminated, truncated, _ = single.step(actions[i, :envs.act_dims[i]])
            assert (step.reward[i], step.terminated[i], step.truncated[i]) == (
                reward, terminated, truncated)
            if terminated or truncated:
                finished += 1
                np.testing.assert_array_equal(step.final_obs[i, :envs.obs_dims[i]],
                                              final.astype(np.float32))
                final = single.reset()[0]
            else:
                assert not np.any(step.final_obs[i])
            expected[i] = final
        obs = step.obs
    assert finished > 0  # auto-reset was exercised
