"""The policy card: validation that names the key and the file, v1 migration, robot checks."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from synergy_control.card import CARD_FORMAT, CardError, PolicyCard
from synergy_control.robots import get_robot

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
