"""The synergy structure: its rule, masks, card section and strict parser, and its palette."""

import numpy as np
import pytest

from synergy_control.robots import get_robot
from synergy_control.synergy import (TORSO, StructureError, SynergyStructure, body_colours,
                                     dominant_synergies, synergy_colour)

HUMANOID = SynergyStructure((0, 0, 1, 1, 2, 2, 3, 3), (0, 2, 5, 7))


def test_structure_masks_and_pooling():
    structure = SynergyStructure((0, 0, 1, 1, 1, 2), (1, 2, 5))
    membership = structure.membership
    assert membership.shape == (6, 3)
    assert np.all(membership.sum(1) == 1)
    np.testing.assert_array_equal(structure.attention_mask, membership @ membership.T > 0)
    features = np.arange(12.0).reshape(6, 2)
    np.testing.assert_allclose(structure.pooling @ features,
                               [features[:2].mean(0), features[2:5].mean(0), features[5]])


def test_card_section_round_trip_and_invalid_structures():
    structure = SynergyStructure((0, 0, 1, 1), (1, 3))
    section = structure.to_card(converged=True)
    assert section['count'] == 2 and section['membership'][2] == [0, 1]
    assert SynergyStructure.from_card(section) == structure
    with pytest.raises(ValueError, match='disagrees'):
        SynergyStructure.from_card({**section, 'membership': [[1, 0]] * 4})
    with pytest.raises(ValueError, match='each of 0..1'):
        SynergyStructure((0, 0, 2, 2), (0, 2))
    with pytest.raises(ValueError, match='own synergy'):
        SynergyStructure((0, 0, 1, 1), (0, 1))


def test_each_limb_body_takes_its_synergy_colour():
    robot = get_robot('humanoid_2d_9_full')
    colours = body_colours(robot, HUMANOID)
    for limb, label in zip(robot.limbs[1:], HUMANOID.labels):
        np.testing.assert_array_equal(colours[limb.body_id], synergy_colour(label))
    assert set(colours) == set(range(1, robot.model.nbody))


def test_contiguous_groups_are_centred_on_their_first_actuator():
    structure = SynergyStructure.contiguous(6, 4)
    assert (structure.labels, structure.centres) == ((0, 0, 1, 2, 2, 3), (0, 2, 3, 5))
    section = structure.to_card('untrained-contiguous', centres='first actuator')
    assert section['method'] == 'untrained-contiguous'
    assert SynergyStructure.from_card(section) == structure


@pytest.mark.parametrize('section', [
    None,
    {'method': 'sar', 'count': 2, 'basis': [[1.0] * 6] * 2, 'offset': [0.0] * 6},
])
def test_a_section_without_clusters_is_no_cluster_structure(section):
    assert not SynergyStructure.clustered(section)


#: A walker's structure as a card holds it; each case breaks one thing.
LEGS = {'method': 'x', 'count': 2, 'labels': [0, 0, 0, 1, 1, 1], 'centres': [1, 4],
        'membership': [[1, 0]] * 3 + [[0, 1]] * 3}


@pytest.mark.parametrize('change, message', [
    ({'centres': None}, r"key 'synergy.centres' is missing"),
    ({'labels': None}, r"key 'synergy.labels' is missing"),
    ({'labels': None, 'membership': [[1, 0]] * 3 + [[0, 0]] * 3},
     r"key 'synergy.membership': actuator 3 \('hip'\), 4, 5 belongs to no synergy"),
    ({'centres': [1, 4, 5]}, r"key 'synergy.centres': expected a list of 2 actuator indices"),
    ({'centres': [1, True]}, r"key 'synergy.centres\[1\]': expected an integer from 0 below 6"),
    ({'labels': [0, 0, 0, 1, 1, 1.0]}, r"key 'synergy.labels\[5\]': expected an integer"),
    ({'labels': [0, 0, 0, 0, 0, 0], 'membership': None}, r"synergy \[1\] has no actuator"),
    ({'centres': [4, 1]}, r"key 'synergy.centres': expected each synergy centred on one of"),
    ({'membership': [[1, 0]] * 6}, r"key 'synergy.membership' disagrees with 'synergy.labels'"),
    ({'membership': [[1, 0]] * 5 + [[1]]}, r"key 'synergy.membership': expected a K x L 0/1"),
    ({'membership': [[1, 0]] * 3 + [[0, 2]] * 3}, r"'synergy.membership': expected a K x L 0/1"),
    ({'labels': 'legs'}, r"key 'synergy.labels': expected a list of synergy indices"),
], ids=lambda value: str(value) if isinstance(value, dict) else None)
def test_the_one_parser_names_the_key_of_a_malformed_structure(change, message):
    section = {**LEGS, **change}
    section = {key: value for key, value in section.items() if value is not None}
    with pytest.raises(StructureError, match=message):
        SynergyStructure.from_card(section, names=['thigh', 'leg', 'foot', 'hip'])
    assert SynergyStructure.from_card(LEGS) == SynergyStructure((0, 0, 0, 1, 1, 1), (1, 4))


def test_a_body_takes_the_synergy_that_loads_its_actuators_most():
    robot = get_robot('humanoid')
    names = robot.actuator_names
    basis = np.zeros((2, robot.model.nu))
    basis[0, names.index('right_hip_x')] = 0.6  # the strongest single loading of the thigh ...
    basis[1, names.index('right_hip_z')] = -0.5  # ... but synergy 1 loads the thigh more
    basis[1, names.index('right_hip_y')] = 0.5
    synergies = dominant_synergies(robot, basis)
    thigh = robot.model.body('right_thigh').id
    assert synergies[thigh] == 1
    assert synergies[robot.model.body('right_foot').id] == synergies[robot.model.body(
        'right_shin').id]  # an unactuated body takes its carrier's synergy
    assert synergies[robot.limbs[0].body_id] == TORSO
    assert set(synergies) == set(range(1, robot.model.nbody))
    with pytest.raises(ValueError, match=r'L x 17 loadings, got shape \(2, 16\)'):
        dominant_synergies(robot, basis[:, 1:])
