"""Runtime: loads policies, refuses bad ones clearly, produces safe commands."""

import numpy as np
import onnx
import pytest

from synergy_control.envs import make_env
from synergy_control.evaluation import evaluate
from synergy_control.card import METADATA_KEY
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


def _rewrite_card(path, card):
    """Store an edited card in an exported model, as a tampered or stale file would have."""
    model = onnx.load(path)
    for entry in model.metadata_props:
        if entry.key == METADATA_KEY:
            entry.value = card.to_yaml()
    onnx.save(model, path)


def test_card_whose_action_scaling_disagrees_with_the_robot_is_refused(tmp_path):
    from synergy_control.card import PolicyCard
    path = tmp_path / 'walker.onnx'
    card = export_untrained('walker_7_main', path)
    card.action['gear'] = [1000.0] * 6
    card.action['command_high'] = [1000.0] * 6
    _rewrite_card(path, card)
    assert PolicyCard.from_yaml(card.to_yaml()).action['gear'][0] == 1000.0
    with pytest.raises(PolicyLoadError, match='gear'):
        PolicyRuntime(path)


def test_malformed_card_field_is_a_load_error(tmp_path):
    path = tmp_path / 'walker.onnx'
    card = export_untrained('walker_7_main', path)
    card.observation['mode'] = 'pixels'
    _rewrite_card(path, card)
    with pytest.raises(PolicyLoadError, match='pixels'):
        PolicyRuntime(path)
