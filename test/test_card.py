"""The policy card: validation that names the key and the file, v1 migration, robot checks."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from synergy_control.card import CARD_FORMAT, CardError, PolicyCard, variable_signature
from synergy_control.robots import get_robot
from synergy_control.synergy import SynergyStructure

ROOT = Path(__file__).resolve().parents[1]
SOURCE = 'models/x.onnx'


def walker_card(**extra) -> PolicyCard:
    return PolicyCard.for_robot(get_robot('walker_7_main'), name='x', method='m',
                                obs_mode='flat', **extra)


def synergy_card() -> PolicyCard:
    """A card with every optional section: synergies, tasks, four named inputs, two outputs."""
    membership = [[1, 0], [1, 0], [1, 0], [0, 1], [0, 1], [0, 1]]
    return walker_card(
        synergy={'method': 'solar', 'count': 2, 'labels': [0, 0, 0, 1, 1, 1], 'centres': [1, 4],
                 'membership': membership, 'fit': {'converged': True}},
        tasks={'dim': 2, 'default': 'run', 'embeddings': {'run': [1.0, 0.0], 'hop': [0.0, 1.0]}},
        onnx={'opset': 18,
              'inputs': [{'name': 'obs', 'shape': ['batch', 17], 'source': 'observation'},
                         {'name': 'task', 'shape': ['batch', 2], 'source': 'task_embedding'},
                         {'name': 'membership', 'shape': [6, 2],
                          'source': 'synergy.membership'}],
              'outputs': [{'name': 'action', 'shape': ['batch', 6], 'role': 'action'},
                          {'name': 'synergy', 'shape': ['batch', 2],
                           'role': 'synergy_activations'}]})


def edited(card: PolicyCard, edit) -> str:
    """YAML of ``card`` after ``edit(data)`` changed its plain data."""
    data = yaml.safe_load(card.to_yaml())
    edit(data)
    return yaml.safe_dump(data)


def test_round_trip_of_every_section():
    card = synergy_card()
    assert PolicyCard.from_yaml(card.to_yaml()) == card
    assert card.format == CARD_FORMAT
    assert card.input_of('task_embedding')['name'] == 'task'
    assert card.output_of('synergy_activations')['shape'] == ['batch', 2]
    assert card.constant('synergy.membership').shape == (6, 2)


def test_shipped_v1_cards_are_read_as_one_input_graphs():
    for name, (size, actuators) in {'walker_td3': (17, 6), 'hopper_td3': (11, 3)}.items():
        text = (ROOT / 'models' / f'{name}.card.yaml').read_text()
        assert 'policy-card/1' in text
        card = PolicyCard.from_yaml(text, source=f'models/{name}.card.yaml')
        assert card.onnx['inputs'] == [{'name': 'obs', 'shape': ['batch', size],
                                        'source': 'observation'}]
        assert card.onnx['outputs'] == [{'name': 'action', 'shape': ['batch', actuators],
                                         'role': 'action'}]
        assert card.tasks is None and card.format == CARD_FORMAT


def _set(path: str, value):
    """An edit that sets a dotted key of the card data."""
    def edit(data):
        *parents, last = path.split('.')
        for key in parents:
            data = data[int(key)] if isinstance(data, list) else data[key]
        data[int(last) if isinstance(data, list) else last] = value
    return edit


MALFORMED = [
    (_set('action', [1, 2]), r"key 'action': expected a mapping, got \[1, 2\]"),
    (_set('action.gear', 'abc'), r"key 'action.gear': expected a list of 6 finite numbers, "
                                 r"got 'abc'"),
    (_set('action.ctrl_low', [-1.0] * 5), r"key 'action.ctrl_low': expected a list of 6"),
    (_set('synergy.count', 'two'), r"key 'synergy.count': expected an integer"),
    (_set('synergy.labels', [0, 0, 0, 1, 1, 2]), r"key 'synergy.labels\[5\]'"),
    (_set('synergy.membership', [[1, 0]] * 6), r"'synergy.membership' disagrees with"),
    (_set('synergy.centres', [1, 9]), r"key 'synergy.centres\[1\]'"),
    (_set('synergy.colour', 'red'), r"key 'synergy' has unknown keys \['colour'\]"),
    (_set('tasks.default', 'swim'), r"key 'tasks.default': expected one of \['hop', 'run'\]"),
    (_set('tasks.embeddings.run', [3.0, 4.0]), r"key 'tasks.embeddings.run': expected a "
                                               r'unit-norm vector'),
    (_set('tasks.embeddings.run', [1.0]), r"key 'tasks.embeddings.run': expected a list of 2"),
    (_set('observation.mode', 'pixels'), r"key 'observation.mode': expected one of"),
    (_set('observation', {'mode': 'flat'}), r"key 'observation.size' is missing"),
    (_set('observation.velocity_clip', 'ten'), r"key 'observation.velocity_clip': expected a "
                                               r'positive'),
    (_set('observation.needs_ctrl', 'yes'), r"key 'observation.needs_ctrl': expected true or"),
    (_set('control_period', -0.008), r"key 'control_period': expected a positive"),
    (_set('control_period', float('nan')), r"key 'control_period'"),
    (_set('joint_names', 'thigh_joint'), r"key 'joint_names': expected a list of names"),
    (_set('onnx.inputs.1.source', 'camera'), r"key 'onnx.inputs\[1\].source': expected one of"),
    (_set('onnx.inputs.2.source', 'synergy.basis'), r"key 'onnx.inputs\[2\].source'"),
    (_set('onnx.inputs.0.shape', ['batch', 18]), r"key 'onnx.inputs\[0\].shape': expected "
                                                 r"\['batch', 17\]"),
    (_set('onnx.inputs.1.name', 'obs'), r"key 'onnx.inputs': expected distinct names"),
    (_set('onnx.outputs.0.role', 'synergy_activations'), r"key 'onnx.outputs\[0\].role'"),
    (_set('onnx.outputs.1.shape', ['batch', 3]), r"key 'onnx.outputs\[1\].shape'"),
    (_set('synergy', None), r"key 'onnx.inputs\[2\].source': expected a synergy.<key>"),
    (_set('tasks', None), r"key 'onnx.inputs\[1\].source': expected a source the card has"),
    (_set('format', 'synergy_control/policy-card/9'), r"key 'format'"),
    (_set('nmae', 'x'), r"unknown keys \['nmae'\]"),
]


@pytest.mark.parametrize('edit, message', MALFORMED, ids=[m for _, m in MALFORMED])
def test_malformed_card_names_the_key_and_the_file(edit, message):
    with pytest.raises(CardError, match=message) as error:
        PolicyCard.from_yaml(edited(synergy_card(), edit), source=SOURCE)
    assert f'policy card {SOURCE}' in str(error.value)


def test_humanoid_card_without_velocity_clip_and_with_ctrl_round_trips():
    card = PolicyCard.for_robot(get_robot('humanoid'), name='h', method='m', obs_mode='flat')
    assert card.observation['velocity_clip'] is None and card.observation['needs_ctrl']
    again = PolicyCard.from_yaml(card.to_yaml(), source=SOURCE)
    again.check_robot(get_robot('humanoid'))
    assert again.observation == card.observation


def test_unknown_and_missing_keys_are_named():
    text = walker_card().to_yaml()
    with pytest.raises(CardError, match=r"unknown keys \['model_hashh'\]"):
        PolicyCard.from_yaml(text.replace('model_hash:', 'model_hashh:'))
    without = '\n'.join(line for line in text.splitlines() if not line.startswith('model_hash:'))
    with pytest.raises(CardError, match=r"lacks keys \['model_hash'\]"):
        PolicyCard.from_yaml(without)


def test_synergy_basis_and_per_variant_structures_are_validated():
    def basis(data):
        data['synergy'] = {'method': 'sar', 'count': 2, 'basis': [[0.5, -0.1] * 3] * 2,
                           'offset': [0.0] * 6,
                           'variants': {'walker_6_main': {'method': 'sar', 'count': 2,
                                                          'basis': [[1.0] * 5] * 2,
                                                          'offset': [0.1] * 5}}}
        data['onnx']['inputs'][2] = {'name': 'basis', 'shape': [2, 6], 'source': 'synergy.basis'}
    card = PolicyCard.from_yaml(edited(synergy_card(), basis))
    assert card.constant('synergy.basis').shape == (2, 6)
    with pytest.raises(CardError, match=r"synergy.variants.walker_6_main.basis\[1\]"):
        PolicyCard.from_yaml(edited(card, _set('synergy.variants.walker_6_main.basis.1',
                                               ['x'] * 5)))
    with pytest.raises(CardError, match=r"key 'synergy.variants.walker_6_main.offset': expected "
                                        'a list of 5'):
        PolicyCard.from_yaml(edited(card, _set('synergy.variants.walker_6_main.offset', [0.0])))
    with pytest.raises(CardError, match=r"key 'synergy.basis': expected a 2 x 6 matrix"):
        PolicyCard.from_yaml(edited(card, _set('synergy.basis', [[0.5] * 6] * 3)))


def test_v1_card_with_task_embeddings_is_refused_by_key():
    data = yaml.safe_load((ROOT / 'models' / 'walker_td3.card.yaml').read_text())
    data['task_embeddings'] = {'run': [1.0]}
    with pytest.raises(CardError, match="key 'task_embeddings' of a format-1 card"):
        PolicyCard.from_yaml(yaml.safe_dump(data), source=SOURCE)


# Each check of check_robot, by the message only it gives (deleting it fails its case).
MISFITS = [
    (lambda c: c.joint_names.reverse(), 'joint names differ'),
    (lambda c: c.observation.update(velocity_clip=5.0), "observation 'velocity_clip'"),
    (lambda c: c.observation['layout'][0]['names'].reverse(), "observation 'layout'"),
    (lambda c: c.observation.update(size=18), "observation 'size'"),
    (lambda c: c.action.update(gear=[150.0] * 6), 'action gear'),
    (lambda c: c.action.update(ctrl_high=[0.5] * 6), 'action ctrl_high'),
    (lambda c: c.action.update(command_interface='velocity'), 'action command_interface'),
    (lambda c: setattr(c, 'model_hash', '0123456789abcdef'), 'model hash'),
    (lambda c: setattr(c, 'control_period', 0.01), 'control period'),
]


@pytest.mark.parametrize('misfit, message', MISFITS, ids=[m for _, m in MISFITS])
def test_each_robot_check_names_what_differs(misfit, message):
    card = walker_card()
    card.check_robot(get_robot('walker_7_main'))
    misfit(card)
    with pytest.raises(CardError, match=message):
        card.check_robot(get_robot('walker_7_main'))


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
def test_graph_signature_must_match_the_card(inputs, outputs, message):
    card = synergy_card()
    card.check_graph([('obs', ['batch', 17]), ('task', ['batch', 2]), ('membership', [6, 2])],
                     [('action', ['b', 6]), ('synergy', ['b', 2])])
    with pytest.raises(CardError, match=message):
        card.check_graph(inputs, outputs)


# ---------------------------------------------------------------------- one card, many robots
SET = ['walker_4_main', 'walker_7_main', 'walker_3_main']


def set_card() -> PolicyCard:
    """A card of one graph serving three walkers, each with its own synergies (SOLAR's shape)."""
    robots = [get_robot(name) for name in SET]
    sections = {r.name: SynergyStructure(*STRUCTURES[r.name]).to_card() for r in robots}
    onnx = {'opset': 18, 'inputs': [
        {'name': 'obs', 'shape': ['batch', 1], 'source': 'observation'},
        {'name': 'membership', 'shape': [1, 1], 'source': 'synergy.membership'}],
        'outputs': [{'name': 'action', 'shape': ['batch', 1], 'role': 'action'},
                    {'name': 'synergy', 'shape': ['batch', 1], 'role': 'synergy_activations'}]}
    return PolicyCard.for_robots(robots, name='x', method='m', obs_mode='modular',
                                 onnx=variable_signature(onnx),
                                 synergy={**sections[SET[0]], 'variants': sections})


STRUCTURES = {'walker_4_main': ((0, 0, 1), (0, 2)),
              'walker_7_main': ((0, 0, 0, 1, 1, 1), (1, 4)),
              'walker_3_main': ((0, 1), (0, 1))}


def test_one_card_serves_each_robot_with_its_own_facts_and_synergies():
    card = PolicyCard.from_yaml(set_card().to_yaml(), source=SOURCE)
    assert card == set_card() and card.robots == SET and card.robot == SET[0]
    assert card.onnx['inputs'][1]['shape'] == ['actuators', 'synergies']
    for name in SET:
        robot = get_robot(name)
        single = card.variant(name)
        single.check_robot(robot)
        card.check_robot(robot)
        assert single.variants is None and single.robot == name
        assert single.joint_names == list(robot.joint_names)
        assert single.observation['size'] == 19 * len(robot.limbs)
        assert single.synergy['labels'] == list(STRUCTURES[name][0])
        assert single.constant('synergy.membership').shape == (robot.model.nu, 2)
        assert single.onnx['outputs'][0]['shape'] == ['batch', robot.model.nu]
        assert single.onnx['inputs'][0]['shape'] == ['batch', single.observation['size']]


def test_a_robot_the_card_does_not_serve_is_named_with_those_it_serves():
    with pytest.raises(CardError, match=r"serves robots \['walker_4_main', 'walker_7_main', "
                                        r"'walker_3_main'\], not 'walker_6_main'"):
        set_card().check_robot(get_robot('walker_6_main'))


def test_each_variant_is_checked_against_its_robot():
    card = set_card()
    card.variants['walker_7_main']['joint_names'].reverse()
    card.check_robot(get_robot('walker_4_main'))
    with pytest.raises(CardError, match='joint names differ'):
        card.check_robot(get_robot('walker_7_main'))


VARIANT_MALFORMED = [
    (_set('variants.walker_7_main.observation.size', 'many'),
     r"robot 'walker_7_main': key 'observation.size': expected an integer"),
    (_set('variants.walker_7_main.control_period', 0),
     r"robot 'walker_7_main': key 'control_period'"),
    (lambda d: d['variants']['walker_3_main'].pop('model_hash'),
     r"key 'variants.walker_3_main': expected the keys"),
    (_set('variants.walker_4_main.model_hash', 'f00'),
     r"key 'variants.walker_4_main.model_hash' disagrees with the card's 'model_hash'"),
    (lambda d: d['variants'].pop('walker_4_main'),
     r"key 'variants': expected a mapping that holds the card's robot 'walker_4_main'"),
    (_set('synergy.variants.walker_7_main.labels', [0, 0, 0, 1, 1]),
     r"robot 'walker_7_main': key 'synergy.labels'"),
    (lambda d: d['synergy']['variants'].pop('walker_3_main'),
     r"key 'synergy.variants': expected a structure for each robot \(missing "
     r"\['walker_3_main'\]\)"),
    (_set('synergy.variants.walker_3_main.membership', [[1, 0, 0], [0, 1, 0]]),
     r"size 'synergies' is 3 and 2 for robot 'walker_3_main'"),
    (_set('synergy.variants.walker_3_main.membership', [[1, 0], [0, 0.5]]),
     r"robot 'walker_3_main': key 'synergy.membership': expected a 0/1 matrix"),
    (_set('synergy.centres', [0, 1]),
     r"key 'synergy.variants.walker_4_main' disagrees with the card's 'synergy'"),
    (_set('onnx.outputs.1.shape', ['batch', 'actuators']),
     r"size 'actuators' is 3 and 2 for robot 'walker_4_main'"),
    (_set('onnx.inputs.0.shape', ['batch', 'batch']),
     r"key 'onnx.inputs\[0\].shape': expected a list of sizes or size names"),
    (_set('onnx.outputs.0.shape', ['batch', 6]),
     r"robot 'walker_3_main': key 'onnx.outputs\[0\].shape': expected \['batch', 2\]"),
]


@pytest.mark.parametrize('edit, message', VARIANT_MALFORMED,
                         ids=[m for _, m in VARIANT_MALFORMED])
def test_malformed_variants_name_the_robot_and_the_key(edit, message):
    with pytest.raises(CardError, match=message) as error:
        PolicyCard.from_yaml(edited(set_card(), edit), source=SOURCE)
    assert f'policy card {SOURCE}' in str(error.value)


def test_size_names_need_variants():
    with pytest.raises(CardError, match=r"key 'onnx.inputs\[0\].shape': expected a list of "
                                        r"sizes \('batch'"):
        PolicyCard.from_yaml(edited(synergy_card(), _set('onnx.inputs.0.shape',
                                                         ['batch', 'observation_size'])))
