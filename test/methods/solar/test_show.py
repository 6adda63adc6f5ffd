"""``synergies show``: the cluster table and the picture of the body coloured by synergy."""

import imageio.v2 as imageio
import numpy as np
import pytest

from synergy_control.methods.solar.show import describe, draw
from synergy_control.render import RenderBackendError, select_gl_backend
from synergy_control.robots import get_robot
from synergy_control.synergy import SynergyStructure, synergy_colour

HUMANOID = SynergyStructure((0, 0, 1, 1, 2, 2, 3, 3), (0, 2, 5, 7))


def test_table_names_centres_and_members():
    text = describe(get_robot('humanoid_2d_9_full'), HUMANOID)
    assert '4 synergies over 8 actuators' in text
    assert 'synergy 2: centre right_lower_arm' in text
    assert 'members left_upper_arm, left_lower_arm' in text
    with pytest.raises(ValueError, match='has 6'):
        describe(get_robot('walker_7_main'), HUMANOID)


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
