"""PolicyCard: building from robots, the YAML round trip, the robot and graph checks."""

from __future__ import annotations

import copy

import pytest

from synergy_control.card import CARD_FORMAT, CardError, PolicyCard
from synergy_control.robots import get_robot

SOURCE = 'models/x.onnx'


def test_round_trip_of_every_section(synergy_card):
    card = synergy_card()
    assert PolicyCard.from_yaml(card.to_yaml()) == card
    assert card.format == CARD_FORMAT
    assert card.input_of('task_embedding')['name'] == 'task'
    assert card.output_of('synergy_activations')['shape'] == ['batch', 2]
    assert card.constant('synergy.membership').shape == (6, 2)


def test_humanoid_card_without_velocity_clip_and_with_ctrl_round_trips():
    card = PolicyCard.for_robot(get_robot('humanoid'), name='h', method='m', obs_mode='flat')
    assert card.observation['velocity_clip'] is None and card.observation['needs_ctrl']
    again = PolicyCard.from_yaml(card.to_yaml(), source=SOURCE)
    again.check_robot(get_robot('humanoid'))
    assert again.observation == card.observation


# Each check of check_robot, by the message only it gives (deleting it fails its case).
MISFITS = [
    (lambda c: c.joint_names.reverse(), 'joint names differ'),
    (lambda c: c.observation['layout'][0]['names'].reverse(), "observation 'layout'"),
    (lambda c: c.observation.update(size=18), "observation 'size'"),
    (lambda c: c.action.update(gear=[150.0] * 6), 'action gear'),
    (lambda c: c.action.update(ctrl_high=[0.5] * 6), 'action ctrl_high'),
    (lambda c: c.action.update(command_interface='velocity'), 'action command_interface'),
    (lambda c: setattr(c, 'model_hash', '0123456789abcdef'), 'model hash'),
    (lambda c: setattr(c, 'control_period', 0.01), 'control period'),
]


@pytest.mark.parametrize('misfit, message', MISFITS, ids=[m for _, m in MISFITS])
def test_each_robot_check_names_what_differs(misfit, message, walker_card):
    card = walker_card()
    card.check_robot(get_robot('walker_7_main'))
    misfit(card)
    with pytest.raises(CardError, match=message):
        card.check_robot(get_robot('walker_7_main'))


def test_a_flat_cards_velocity_clip_is_its_policys_and_a_modular_ones_is_checked():
    """The flat clip is what the policy was trained on (the runtime applies the card's); the
    limb tokens' clip is fixed, so a modular card that names another is a misfit."""
    flat = PolicyCard.for_robot(get_robot('walker_7_main'), name='x', method='m',
                                obs_mode='flat')
    flat.observation.update(velocity_clip=None)
    flat.check_robot(get_robot('walker_7_main'))
    modular = PolicyCard.for_robot(get_robot('walker_7_main'), name='x', method='m',
                                   obs_mode='modular')
    modular.check_robot(get_robot('walker_7_main'))
    modular.observation.update(velocity_clip=5.0)
    with pytest.raises(CardError, match="observation 'velocity_clip' 5.0 != robot's 10.0"):
        modular.check_robot(get_robot('walker_7_main'))


def test_card_for_another_robot_names_the_joints():
    card = PolicyCard.for_robot(get_robot('walker_6_main'), name='x', method='m',
                                obs_mode='modular')
    with pytest.raises(CardError, match='foot_left_joint'):
        card.check_robot(get_robot('walker_7_main'))


def test_modular_spec_compares_tokens_and_features():
    robot = get_robot('walker_7_main')
    card = PolicyCard.for_robot(robot, name='x', method='m', obs_mode='modular')
    card.check_robot(robot)
    features = copy.deepcopy(card)
    features.observation['token_features'][0] = 'pos_r'
    with pytest.raises(CardError, match="observation 'token_features'"):
        features.check_robot(robot)
    card.observation['tokens'].reverse()
    with pytest.raises(CardError, match="observation 'tokens'"):
        card.check_robot(robot)


SIGNATURES = [
    ([('obs', ['batch', 17]), ('membership', [6, 2]), ('task', ['batch', 2])],
     [('action', ['b', 6]), ('synergy', ['b', 2])], r"inputs \['obs', 'membership', 'task'\]"),
    ([('obs', ['batch', 17]), ('task', ['batch', 2])],
     [('action', ['b', 6]), ('synergy', ['b', 2])], 'inputs'),
    ([('observation', ['batch', 17]), ('task', ['batch', 2]), ('membership', [6, 2])],
     [('action', ['b', 6]), ('synergy', ['b', 2])], r"card \['obs', 'task', 'membership'\]"),
    ([('obs', ['batch', 17]), ('task', ['batch', 2]), ('membership', [6, 3])],
     [('action', ['b', 6]), ('synergy', ['b', 2])], r"input 'membership' has shape \[6, 3\]"),
    ([('obs', [17]), ('task', ['batch', 2]), ('membership', [6, 2])],
     [('action', ['b', 6]), ('synergy', ['b', 2])], "input 'obs' has shape"),
    ([('obs', ['batch', 17]), ('task', ['batch', 2]), ('membership', [6, 2])],
     [('action', ['b', 6])], r"outputs \['action'\]"),
    ([('obs', ['batch', 17]), ('task', ['batch', 2]), ('membership', [6, 2])],
     [('action', ['b', 6]), ('synergy', ['b', 4])], "output 'synergy' has shape"),
]


@pytest.mark.parametrize('inputs, outputs, message', SIGNATURES, ids=[s[2] for s in SIGNATURES])
def test_graph_signature_must_match_the_card(inputs, outputs, message, synergy_card):
    card = synergy_card()
    card.check_graph([('obs', ['batch', 17]), ('task', ['batch', 2]), ('membership', [6, 2])],
                     [('action', ['b', 6]), ('synergy', ['b', 2])])
    with pytest.raises(CardError, match=message):
        card.check_graph(inputs, outputs)


def test_one_card_serves_each_robot_with_its_own_facts_and_synergies(set_card, set_structures):
    robots = list(set_structures)
    card = PolicyCard.from_yaml(set_card().to_yaml(), source=SOURCE)
    assert card == set_card() and card.robots == robots and card.robot == robots[0]
    assert card.onnx['inputs'][1]['shape'] == ['actuators', 'synergies']
    for name in robots:
        robot = get_robot(name)
        single = card.variant(name)
        single.check_robot(robot)
        card.check_robot(robot)
        assert single.variants is None and single.robot == name
        assert single.joint_names == list(robot.joint_names)
        assert single.observation['size'] == 19 * len(robot.limbs)
        assert single.synergy['labels'] == list(set_structures[name][0])
        assert single.constant('synergy.membership').shape == (robot.model.nu, 2)
        assert single.onnx['outputs'][0]['shape'] == ['batch', robot.model.nu]
        assert single.onnx['inputs'][0]['shape'] == ['batch', single.observation['size']]


def test_a_robot_the_card_does_not_serve_is_named_with_those_it_serves(set_card):
    with pytest.raises(CardError, match=r"serves robots \['walker_4_main', 'walker_7_main', "
                                        r"'walker_3_main'\], not 'walker_6_main'"):
        set_card().check_robot(get_robot('walker_6_main'))


def test_each_variant_is_checked_against_its_robot(set_card):
    card = set_card()
    card.variants['walker_7_main']['joint_names'].reverse()
    card.check_robot(get_robot('walker_4_main'))
    with pytest.raises(CardError, match='joint names differ'):
        card.check_robot(get_robot('walker_7_main'))
