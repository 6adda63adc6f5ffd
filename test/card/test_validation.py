"""Card validation: every malformed or undrivable card is refused naming the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from synergy_control.card import CardError, PolicyCard

ROOT = Path(__file__).resolve().parents[2]
SOURCE = 'models/x.onnx'


def edited(card: PolicyCard, edit) -> str:
    """YAML of ``card`` after ``edit(data)`` changed its plain data."""
    data = yaml.safe_load(card.to_yaml())
    edit(data)
    return yaml.safe_dump(data)


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
    (_set('observation.lateral_position', 'no'),
     r"key 'observation.lateral_position': expected true or"),
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


# ---------------------------------------------------------------------- structures that can drive
DEAD_FOOT = [[1, 0], [1, 0], [0, 0], [0, 1], [0, 1], [0, 1]]
SHARED_FOOT = [[1, 0], [1, 0], [1, 1], [0, 1], [0, 1], [0, 1]]


def _membership_only(membership):
    """An edit that drops the labels and centres and sets the membership alone."""
    def edit(data):
        for key in ('labels', 'centres'):
            data['synergy'].pop(key)
        data['synergy']['membership'] = membership
    return edit


#: Cluster structures that cannot drive the robot (SAR's soft basis is exempt).
UNDRIVABLE = [
    (_set('synergy.centres', [4, 1]),
     r"key 'synergy.centres': expected each synergy centred on one of its own actuators"),
    (_set('synergy.labels', [0] * 6), r"key 'synergy.labels': synergy \[1\] has no actuator"),
    (_membership_only([[0, 0]] * 6), "key 'synergy.membership' is all zero"),
    (_membership_only(DEAD_FOOT),
     r"key 'synergy.membership': actuator 2 \('foot_joint'\) belongs to no synergy"),
    (_membership_only(SHARED_FOOT),
     r"key 'synergy.membership': actuator 2 \('foot_joint'\) is in several synergies"),
    (_membership_only([[1, 0]] * 6), r"synergy \[1\] has no actuator"),
]


@pytest.mark.parametrize('edit, message', MALFORMED + UNDRIVABLE,
                         ids=[m for _, m in MALFORMED + UNDRIVABLE])
def test_malformed_card_names_the_key_and_the_file(edit, message, synergy_card):
    with pytest.raises(CardError, match=message) as error:
        PolicyCard.from_yaml(edited(synergy_card(), edit), source=SOURCE)
    assert f'policy card {SOURCE}' in str(error.value)


def test_unknown_and_missing_keys_are_named(walker_card):
    text = walker_card().to_yaml()
    with pytest.raises(CardError, match=r"unknown keys \['model_hashh'\]"):
        PolicyCard.from_yaml(text.replace('model_hash:', 'model_hashh:'))
    without = '\n'.join(line for line in text.splitlines() if not line.startswith('model_hash:'))
    with pytest.raises(CardError, match=r"lacks keys \['model_hash'\]"):
        PolicyCard.from_yaml(without)


def test_synergy_basis_and_per_variant_structures_are_validated(synergy_card):
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
def test_malformed_variants_name_the_robot_and_the_key(edit, message, set_card):
    with pytest.raises(CardError, match=message) as error:
        PolicyCard.from_yaml(edited(set_card(), edit), source=SOURCE)
    assert f'policy card {SOURCE}' in str(error.value)


def test_size_names_need_variants(synergy_card):
    with pytest.raises(CardError, match=r"key 'onnx.inputs\[0\].shape': expected a list of "
                                        r"sizes \('batch'"):
        PolicyCard.from_yaml(edited(synergy_card(), _set('onnx.inputs.0.shape',
                                                         ['batch', 'observation_size'])))


def test_a_variant_whose_centres_are_not_its_members_is_refused_naming_it(set_card):
    """The structure SynergyStructure refused inside the node's configure, found on load."""
    edit = _set('synergy.variants.walker_3_main.centres', [1, 0])
    with pytest.raises(CardError, match=r"robot 'walker_3_main': key 'synergy.centres': "
                                        r'expected each synergy centred'):
        PolicyCard.from_yaml(edited(set_card(), edit), source=SOURCE)


def test_a_soft_basis_may_load_every_actuator_or_none():
    """SAR's loadings are a soft basis: a zero column (an actuator at its offset) is valid."""
    def basis(data):
        data['synergy'] = {'method': 'sar', 'count': 2, 'basis': [[0.5, -0.1, 0.0] * 2] * 2,
                           'offset': [0.0] * 6}
        data['onnx']['inputs'][2] = {'name': 'basis', 'shape': [2, 6], 'source': 'synergy.basis'}


SHIPPED_CARDS = sorted((ROOT / 'models').rglob('*.card.yaml'))


@pytest.mark.parametrize('path', SHIPPED_CARDS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_card_and_model_validates(path):
    from synergy_control.runtime import read_card
    PolicyCard.from_yaml(path.read_text(), source=path)
    read_card(path.with_name(path.name.replace('.card.yaml', '.onnx')))
