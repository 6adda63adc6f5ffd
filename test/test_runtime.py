"""Runtime: loads policies, refuses bad ones clearly, produces safe commands."""

import numpy as np
import pytest

from synergy_control.envs import make_env
from synergy_control.evaluation import evaluate
from synergy_control.export import export_untrained
from synergy_control.runtime import NonFiniteError, PolicyLoadError, PolicyRuntime


@pytest.fixture(scope='module')
def walker_policy(tmp_path_factory):
    path = tmp_path_factory.mktemp('policies') / 'walker.onnx'
    export_untrained('walker_7_main', path)
    return path


def test_commands_are_finite_and_within_limits(walker_policy):
    runtime = PolicyRuntime(walker_policy)
    env = make_env('walker_7_main')
    env.reset(seed=0)
    out = runtime.act(env.data.qpos, env.data.qvel)
    assert out.commands.shape == (6,) and np.all(np.abs(out.commands) <= 100.0)
    assert out.synergy.size == 0


def test_non_finite_state_is_refused(walker_policy):
    runtime = PolicyRuntime(walker_policy)
    env = make_env('walker_7_main')
    env.reset(seed=0)
    qvel = env.data.qvel.copy()
    qvel[4] = np.inf
    with pytest.raises(NonFiniteError):
        runtime.act(env.data.qpos, qvel)


def test_corrupt_file_is_a_clear_error(tmp_path, walker_policy):
    broken = tmp_path / 'broken.onnx'
    broken.write_bytes(walker_policy.read_bytes()[:300])
    with pytest.raises(PolicyLoadError, match='not a valid ONNX model'):
        PolicyRuntime(broken)
    with pytest.raises(PolicyLoadError, match='does not exist'):
        PolicyRuntime(tmp_path / 'missing.onnx')


def test_policy_for_another_robot_names_the_joints(walker_policy):
    with pytest.raises(PolicyLoadError, match='foot_left_joint'):
        PolicyRuntime(walker_policy, 'walker_6_main')


def test_evaluate_reports_returns_per_episode(walker_policy):
    result = evaluate(walker_policy, episodes=2, seed=5)
    assert result['episodes'] == 2 and len(result['results']) == 2
    assert result['results'][0]['seed'] == 5
    again = evaluate(walker_policy, episodes=2, seed=5)
    assert again['mean_return'] == result['mean_return']
