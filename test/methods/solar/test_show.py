"""``synergies show``: the cluster table and the picture of the body coloured by synergy."""

import imageio.v2 as imageio
import numpy as np
import pytest

from synergy_control.methods.solar.show import (body_colours, describe, draw, structure_of,
                                                synergy_colour)
from synergy_control.methods.solar.synergies import SynergyStructure
from synergy_control.render import RenderBackendError, select_gl_backend
from synergy_control.robots import get_robot

HUMANOID = SynergyStructure((0, 0, 1, 1, 2, 2, 3, 3), (0, 2, 5, 7))


def test_table_names_centres_and_members():
    text = describe(get_robot('humanoid_2d_9_full'), HUMANOID)
    assert '4 synergies over 8 actuators' in text
    assert 'synergy 2: centre right_lower_arm' in text
    assert 'members left_upper_arm, left_lower_arm' in text
    with pytest.raises(ValueError, match='has 6'):
        describe(get_robot('walker_7_main'), HUMANOID)


def test_each_limb_body_takes_its_synergy_colour():
    robot = get_robot('humanoid_2d_9_full')
    colours = body_colours(robot, HUMANOID)
    for limb, label in zip(robot.limbs[1:], HUMANOID.labels):
        np.testing.assert_array_equal(colours[limb.body_id], synergy_colour(label))
    assert set(colours) == set(range(1, robot.model.nbody))


def test_picture_shows_every_synergy_colour(tmp_path):
    try:
        select_gl_backend()
    except RenderBackendError as error:
        pytest.skip(str(error))
    image = imageio.imread(draw(get_robot('humanoid_2d_9_full'), HUMANOID,
                                tmp_path / 'synergies.png'))[..., :3] / 255.0
    assert image.shape == (360, 480, 3)
    for synergy in range(4):  # some pixels near each synergy's (shaded) colour
        colour = synergy_colour(synergy)
        direction = np.cos(np.radians(8))
        norms = np.linalg.norm(image, axis=-1) * np.linalg.norm(colour) + 1e-9
        assert np.sum((image @ colour) / norms > direction) > 50, synergy


@pytest.mark.parametrize('section, expected', [
    (None, None),
    ({'method': 'sar', 'count': 2, 'basis': [[1.0] * 6] * 2, 'offset': [0.0] * 6}, None),
    ({'method': 'x', 'count': 2, 'labels': [0, 0, 1, 1, 1, 0]}, ((0, 0, 1, 1, 1, 0), (0, 2))),
    ({'method': 'x', 'count': 2, 'labels': [0, 1, 1], 'centres': [0, 2]}, ((0, 1, 1), (0, 2))),
])
def test_structure_from_a_card_section(section, expected):
    structure = structure_of(section)
    assert (structure and (structure.labels, structure.centres)) == expected
