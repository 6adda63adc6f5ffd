"""Offline evaluation: a policy in another world of its own body (a terrain), refused otherwise."""

from pathlib import Path

import pytest

from synergy_control.cli import main
from synergy_control.evaluation import evaluate

WALKER = Path(__file__).resolve().parents[1] / 'models' / 'walker_td3.onnx'


def test_a_flat_policy_walks_in_a_terrain_world_of_its_body(capsys):
    flat = evaluate(WALKER, episodes=1, seed=3)
    stairs = evaluate(WALKER, episodes=1, seed=3, world='walker_7_stairs')
    assert (flat['robot'], flat['world']) == ('walker_7_main', 'walker_7_main')
    assert (stairs['robot'], stairs['world']) == ('walker_7_main', 'walker_7_stairs')
    assert stairs['mean_return'] != flat['mean_return']  # the stairs are under its feet
    assert main(['evaluate', '--policy', str(WALKER), '--episodes', '1', '--world',
                 'walker_7_slope']) == 0
    assert "in walker_7_slope's world" in capsys.readouterr().out


def test_a_world_of_another_body_is_refused():
    with pytest.raises(ValueError, match="world 'hopper_4' is not robot 'walker_7_main'.*"
                                         'joint_names'):
        evaluate(WALKER, episodes=1, world='hopper_4')
