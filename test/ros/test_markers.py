"""Synergy markers: each limb in its synergy's colour, brightness following the activation.

A clustered structure colours each limb by its synergy; a soft basis by its dominant one.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time

from synergy_control.robots import get_robot
from synergy_control.ros.conversions import GeomMarkers
from synergy_control.ros.markers import IDLE_BRIGHTNESS, SynergyMarkers, synergy_markers
from synergy_control.synergy import SynergyStructure, synergy_colour

ROBOT = get_robot('walker_7_main')  # right leg (thigh, leg, foot), then the left leg
LEGS = SynergyStructure((0, 0, 0, 1, 1, 1), (1, 4))


def limb_colours(markers):
    return np.array([[m.color.r, m.color.g, m.color.b] for m in markers.markers
                     if m.ns == 'synergies'])


def test_each_limb_takes_its_synergy_colour_lit_by_its_activation():
    draw = SynergyMarkers.of_structure(ROBOT, LEGS)
    idle = limb_colours(draw(ROBOT.model.qpos0, np.zeros(2), Time()))
    busy = limb_colours(draw(ROBOT.model.qpos0, np.array([0.0, 8.0]), Time()))
    half = len(idle) // 2  # the same geoms in each leg, in limb order
    for rows, synergy in ((slice(0, half), 0), (slice(half, None), 1)):
        np.testing.assert_allclose(idle[rows], IDLE_BRIGHTNESS * synergy_colour(synergy)[None]
                                   .repeat(half, 0), atol=1e-6)
    np.testing.assert_allclose(busy[:half], idle[:half])  # synergy 0 stayed idle
    np.testing.assert_allclose(busy[half:], synergy_colour(1)[None].repeat(half, 0), atol=1e-3)
    negative = limb_colours(draw(ROBOT.model.qpos0, np.array([0.0, -8.0]), Time()))
    np.testing.assert_allclose(negative, busy)  # brightness follows |activation|


def test_markers_sit_on_the_limbs_in_world_with_centres_marked():
    draw = SynergyMarkers.of_structure(ROBOT, LEGS)
    qpos = ROBOT.model.qpos0.copy()
    frame = draw(qpos, np.zeros(2), Time(sec=3))
    assert {m.header.frame_id for m in frame.markers} == {'world'}
    assert {m.header.stamp.sec for m in frame.markers} == {3}
    centres = [m for m in frame.markers if m.ns == 'synergies/centres']
    assert len(centres) == 2
    qpos[0] += 1.5  # the body moves forward: so do its markers
    moved = draw(qpos, np.zeros(2), Time())
    shift = [b.pose.position.x - a.pose.position.x
             for a, b in zip(frame.markers, moved.markers)]
    np.testing.assert_allclose(shift, 1.5, atol=1e-9)


def test_a_basis_colours_each_body_by_its_dominant_synergy_without_centres():
    humanoid = get_robot('humanoid')
    basis = np.zeros((3, humanoid.model.nu))
    basis[0] = 0.2  # synergy 0 loads everything a little ...
    legs = [i for i, name in enumerate(humanoid.actuator_names) if 'hip' in name or 'knee' in name]
    basis[1, legs] = -0.9  # ... synergy 1 the legs (its sign does not matter) ...
    basis[2, humanoid.actuator_names.index('left_elbow')] = 0.5  # ... synergy 2 one forearm
    section = {'method': 'sar-pca-ica', 'count': 3, 'basis': basis.tolist(),
               'offset': [0.0] * humanoid.model.nu}
    draw = synergy_markers(humanoid, section)
    frame = draw(humanoid.model.qpos0, np.array([0.0, 8.0, 0.0]), Time())
    assert {m.ns for m in frame.markers} == {'synergies'}  # no exemplars: no centre spheres
    colours = limb_colours(frame)
    model = humanoid.model
    bodies = [model.body(int(model.geom_bodyid[g])).name for g in GeomMarkers(model, 'g').geoms]
    bodies = [b for b in bodies if b != 'torso']  # the torso is the simulator's to draw
    assert len(bodies) == len(colours)
    for body, colour in zip(bodies, colours):
        if body.endswith(('thigh', 'shin', 'foot')):  # lit by synergy 1's activation
            np.testing.assert_allclose(colour, synergy_colour(1), atol=1e-3)
        else:  # idle: the left forearm (and hand) in synergy 2, the rest in synergy 0
            synergy = 2 if body == 'left_lower_arm' else 0
            np.testing.assert_allclose(colour, IDLE_BRIGHTNESS * synergy_colour(synergy),
                                       atol=1e-6)


def test_a_card_without_synergies_draws_nothing():
    assert synergy_markers(ROBOT, None) is None
