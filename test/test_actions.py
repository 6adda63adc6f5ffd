"""Action scaling between policy actions, MuJoCo controls and effort commands."""

import numpy as np

from synergy_control.actions import ActionScaling
from synergy_control.robots import get_robot


def test_unit_ctrlrange_maps_actions_exactly():
    scaling = ActionScaling.from_robot(get_robot('walker_7_main'))
    action = np.random.default_rng(0).uniform(-1, 1, 6)
    np.testing.assert_array_equal(scaling.action_to_ctrl(action), action)
    np.testing.assert_allclose(scaling.action_to_command(action), 100 * action)


def test_commands_are_clipped_to_limits():
    scaling = ActionScaling(np.array([-0.4]), np.array([0.4]), np.array([50.0]))
    assert scaling.action_to_command(np.array([3.0]))[0] == 20.0
    low, high = scaling.command_limits
    assert low[0] == -20.0 and high[0] == 20.0


def test_round_trip_through_the_card_dict():
    scaling = ActionScaling.from_robot(get_robot('humanoid_2d_9_full'))
    again = ActionScaling.from_dict(scaling.to_dict())
    action = np.linspace(-1, 1, 8)
    np.testing.assert_allclose(again.command_to_action(scaling.action_to_command(action)), action)
