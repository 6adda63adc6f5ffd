"""The policy's synergies in rviz: each limb in its synergy's colour, lit by its activation.

A ``visualization_msgs/MarkerArray`` in frame ``world`` (no TF needed), drawn over the
simulator's geom markers (``/sim/markers``): the limbs' geoms, slightly enlarged, in the
colour of their synergy (the palette of ``synergy-control synergies show``), dimmed when the
synergy is idle and bright when its activation is large.

- A clustered structure (SOLAR's): each limb in its synergy; centre limbs carry a white sphere.
- A soft basis (SAR's, L × K loadings, every actuator in every synergy): each body in its
  *dominant* synergy, the one loading its actuators most
  (:func:`synergy_control.synergy.dominant_synergies`), lit by that synergy's activation. A
  basis has no exemplars, so no centre spheres.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mujoco
import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Vector3
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from synergy_control.robots import Robot
from synergy_control.ros.conversions import WORLD_FRAME, GeomMarkers
from synergy_control.synergy import (TORSO, SynergyStructure, body_synergies, colours_of,
                                     dominant_synergies)

#: Brightness of an idle synergy (activation 0); |tanh(activation)| lights it up to 1.
IDLE_BRIGHTNESS = 0.25
#: Synergy markers are this much larger than the geoms, so that they cover /sim/markers.
ENLARGE = 1.05
CENTRE_RADIUS = 0.05


def brightness(activations: np.ndarray) -> np.ndarray:
    """Brightness in [IDLE_BRIGHTNESS, 1] of each synergy, from |tanh(activation)|."""
    return IDLE_BRIGHTNESS + (1.0 - IDLE_BRIGHTNESS) * np.abs(np.tanh(activations))


def synergy_markers(robot: Robot, section: dict[str, Any] | None) -> 'SynergyMarkers | None':
    """Return the markers a card's ``synergy`` section calls for (None: nothing to draw).

    A clustered section is read by the one strict parser, :meth:`SynergyStructure.from_card`.
    """
    if section and 'basis' in section:
        return SynergyMarkers.of_basis(robot, np.asarray(section['basis']))
    if not SynergyStructure.clustered(section):
        return None
    return SynergyMarkers.of_structure(robot, SynergyStructure.from_card(section))


class SynergyMarkers:
    """Markers of a robot's limbs coloured by synergy (see module docstring)."""

    def __init__(self, robot: Robot, synergy_of_body: dict[int, int],
                 centre_bodies: Sequence[int] = (), namespace: str = 'synergies'):
        model = robot.model
        self._model, self._data = model, mujoco.MjData(model)
        self._geoms = GeomMarkers(model, namespace)
        colours = colours_of(synergy_of_body)
        bodies = [int(model.geom_bodyid[g]) for g in self._geoms.geoms]
        # the torso belongs to no synergy: the simulator's geom markers show it
        self._limb = np.array([synergy_of_body[b] != TORSO for b in bodies])
        self._synergy = np.array([synergy_of_body[b] for b in bodies])[self._limb]
        self._rgb = np.array([colours[b] for b in bodies])[self._limb]
        self._centres = list(centre_bodies)
        self.namespace = namespace

    @classmethod
    def of_structure(cls, robot: Robot, structure: SynergyStructure) -> 'SynergyMarkers':
        """Markers of a clustered structure: each limb in its synergy, centres marked."""
        return cls(robot, body_synergies(robot, structure),
                   [robot.limbs[c + 1].body_id for c in structure.centres])

    @classmethod
    def of_basis(cls, robot: Robot, basis: np.ndarray) -> 'SynergyMarkers':
        """Markers of a soft basis (L × K): each body in its dominant synergy."""
        return cls(robot, dominant_synergies(robot, basis))

    def colours(self, activations: np.ndarray) -> np.ndarray:
        """RGB of each limb marker: its synergy's colour times that synergy's brightness.

        Limb markers only, in marker order (the torso's are left out).
        """
        lit = brightness(np.asarray(activations, dtype=np.float64))
        return self._rgb * lit[self._synergy][:, None]

    def __call__(self, qpos: np.ndarray, activations: np.ndarray, stamp: Time) -> MarkerArray:
        """Make the markers of the robot in pose ``qpos`` with synergy ``activations``."""
        self._data.qpos[:] = qpos
        mujoco.mj_kinematics(self._model, self._data)
        frame = self._geoms(self._data, stamp)
        limbs = MarkerArray()
        markers = [m for m, limb in zip(frame.markers, self._limb) if limb]
        for marker, rgb in zip(markers, self.colours(activations)):
            marker.color = ColorRGBA(r=float(rgb[0]), g=float(rgb[1]), b=float(rgb[2]), a=1.0)
            marker.scale = Vector3(x=marker.scale.x * ENLARGE, y=marker.scale.y * ENLARGE,
                                   z=marker.scale.z * ENLARGE)
            limbs.markers.append(marker)
        for index, body in enumerate(self._centres):
            limbs.markers.append(self._centre(index, self._data.xpos[body], stamp))
        return limbs

    def _centre(self, index: int, position: np.ndarray, stamp: Time) -> Marker:
        marker = Marker(ns=f'{self.namespace}/centres', id=index, type=Marker.SPHERE,
                        action=Marker.ADD, color=ColorRGBA(r=1.0, g=1.0, b=1.0, a=0.9))
        marker.header.stamp = stamp
        marker.header.frame_id = WORLD_FRAME
        marker.pose.position = Point(**dict(zip('xyz', position.tolist())))
        marker.pose.orientation.w = 1.0
        marker.scale = Vector3(x=2 * CENTRE_RADIUS, y=2 * CENTRE_RADIUS, z=2 * CENTRE_RADIUS)
        return marker
