"""The one rollout loop: equal to a hand-written gymnasium loop, hooks, step budgets."""

from __future__ import annotations

import numpy as np
import pytest

from synergy_control.envs import make_env
from synergy_control.evaluation import evaluate, run_episode, runtime_policy
from synergy_control.rollout import rollout, rollout_steps
from synergy_control.runtime import PolicyRuntime


def sine_policy(obs: np.ndarray) -> np.ndarray:
    """A deterministic state feedback that walks a little and falls eventually."""
    return np.sin(3.0 * obs[:6])


def hand_loop(env, seed):
    """The loop every caller used to write: reset, act, step until the episode ends.

    Also the root heights above rest after each step (EAR's jump measure).
    """
    obs, _ = env.reset(seed=seed)
    total, length, done, heights = 0.0, 0, False, []
    while not done:
        obs, reward, terminated, truncated, _ = env.step(sine_policy(obs))
        total, length, done = total + reward, length + 1, terminated or truncated
        heights.append(env.height_above_rest())
    return total, length, terminated, heights


def test_rollout_equals_a_hand_written_loop():
    env = make_env('walker_7_main')
    for seed in (0, 1):
        episode = rollout(env, sine_policy, seed)
        total, length, terminated, heights = hand_loop(env, seed)
        assert (episode.episode_return, episode.length, episode.terminated) == \
            (total, length, terminated)
        assert episode.truncated == (not terminated) and episode.seed == seed
        assert episode.mean_height == pytest.approx(np.mean(heights))
        assert episode.max_height == pytest.approx(max(heights))


def test_commands_are_stepped_as_the_bridge_steps_them():
    env = make_env('walker_7_main')
    by_action = rollout(env, sine_policy, 4)
    by_command = rollout(env, lambda obs: env.scaling.action_to_command(sine_policy(obs)), 4,
                         commands=True)
    assert by_command.episode_return == pytest.approx(by_action.episode_return, rel=1e-9)
    assert by_command.length == by_action.length


def test_observe_sees_each_observation_the_policy_acts_on():
    env = make_env('hopper_4')
    acted, seen = [], []

    def policy(obs):
        acted.append(obs.copy())
        return np.zeros(3)
    episode = rollout(env, policy, 0, observe=lambda obs: seen.append(obs.copy()))
    assert len(seen) == len(acted) == episode.length
    np.testing.assert_array_equal(np.array(seen), np.array(acted))


def test_step_budgets_cut_episodes_and_reseed_new_ones():
    env = make_env('hopper_4')
    cut = rollout(env, lambda obs: np.zeros(3), 0, max_steps=5)
    assert cut.length == 5 and not (cut.terminated or cut.truncated)
    episodes = rollout_steps(env, lambda obs: np.ones(3), 300, seed=10)
    assert sum(e.length for e in episodes) == 300
    assert [e.seed for e in episodes] == list(range(10, 10 + len(episodes)))
    assert len(episodes) > 1 and all(e.terminated for e in episodes[:-1])


def test_evaluate_runs_the_runtime_through_the_same_loop():
    runtime = PolicyRuntime('models/hopper_td3.onnx')
    env = make_env('hopper_4')
    episode = run_episode(runtime, env, 2)
    again = rollout(env, runtime_policy(runtime, env), 2, commands=True)
    assert episode == again
    result = evaluate('models/hopper_td3.onnx', episodes=1, seed=2)
    assert result['results'][0]['episode_return'] == episode.episode_return
