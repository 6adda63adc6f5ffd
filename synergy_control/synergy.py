"""A policy's synergy structure: its actuators grouped into synergies, and their colours.

Torch-free, method-free: the card, the runtime and the nodes read a structure here, SOLAR
finds one (:mod:`synergy_control.methods.solar.synergies`), and the picture of
``synergies show`` and the rviz markers colour it with one palette.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from synergy_control.robots import Robot

#: The card's ``synergy.method`` of a clustered structure (SOLAR's affinity propagation).
METHOD = 'solar-affinity-propagation'


@dataclass(frozen=True)
class SynergyStructure:
    """A clustering of a robot's K actuators into L synergies.

    ``labels[k]`` is actuator k's synergy (0..L-1, numbered by first appearance in actuator
    order, so equal clusterings compare equal); ``centres[l]`` is the actuator index of
    synergy l's exemplar.
    """

    labels: tuple[int, ...]
    centres: tuple[int, ...]

    def __post_init__(self) -> None:
        labels, centres = np.asarray(self.labels), np.asarray(self.centres)
        count = len(centres)
        if labels.ndim != 1 or len(labels) == 0 or count == 0:
            raise ValueError('a synergy structure needs at least one actuator and one synergy')
        if labels.min() < 0 or labels.max() >= count or len(set(labels.tolist())) != count:
            raise ValueError(f'synergy labels {labels.tolist()} must use each of 0..{count - 1}')
        if any(not 0 <= c < len(labels) or labels[c] != i for i, c in enumerate(centres)):
            raise ValueError(f'synergy centres {centres.tolist()} must each be an actuator of '
                             'their own synergy')

    @classmethod
    def from_exemplars(cls, exemplar_of: np.ndarray) -> 'SynergyStructure':
        """Build from each actuator's exemplar index (affinity propagation's raw output)."""
        order: dict[int, int] = {}
        for exemplar in exemplar_of.tolist():
            order.setdefault(int(exemplar), len(order))
        labels = tuple(order[int(e)] for e in exemplar_of.tolist())
        return cls(labels, tuple(order))

    @classmethod
    def single(cls, actuators: int) -> 'SynergyStructure':
        """Every actuator in one synergy centred on the first (before any value estimate)."""
        return cls((0,) * actuators, (0,))

    @property
    def actuators(self) -> int:
        """K, the number of actuators."""
        return len(self.labels)

    @property
    def count(self) -> int:
        """L, the number of synergies."""
        return len(self.centres)

    @property
    def membership(self) -> np.ndarray:
        """K × L 0/1 matrix: actuator k belongs to synergy l."""
        return np.eye(self.count)[list(self.labels)]

    @property
    def attention_mask(self) -> np.ndarray:
        """K × K boolean: actuators may attend to each other only within one synergy."""
        labels = np.asarray(self.labels)
        return labels[:, None] == labels[None, :]

    @property
    def pooling(self) -> np.ndarray:
        """L × K matrix whose product with per-actuator features averages each synergy's."""
        membership = self.membership.T
        return membership / membership.sum(1, keepdims=True)

    def to_card(self, **fit: Any) -> dict[str, Any]:
        """Return the card's ``synergy`` section (``fit``: how it was found, e.g. converged)."""
        return {'method': METHOD, 'count': self.count, 'labels': list(self.labels),
                'centres': list(self.centres), 'membership': self.membership.astype(int).tolist(),
                'fit': dict(fit)}

    @classmethod
    def from_card(cls, section: dict[str, Any]) -> 'SynergyStructure':
        """Rebuild from a card's ``synergy`` section (membership must agree with labels)."""
        structure = cls(tuple(int(v) for v in section['labels']),
                        tuple(int(v) for v in section['centres']))
        if 'membership' in section and not np.array_equal(
                np.asarray(section['membership']), structure.membership):
            raise ValueError("synergy 'membership' disagrees with 'labels'")
        return structure


#: One colour per synergy (RGBA), cycled beyond ten; the torso stays grey.
PALETTE = np.array([[0.12, 0.47, 0.71], [1.00, 0.50, 0.05], [0.17, 0.63, 0.17],
                    [0.84, 0.15, 0.16], [0.58, 0.40, 0.74], [0.55, 0.34, 0.29],
                    [0.89, 0.47, 0.76], [0.50, 0.50, 0.50], [0.74, 0.74, 0.13],
                    [0.09, 0.75, 0.81]])
TORSO_GREY = np.array([0.75, 0.75, 0.75])


def synergy_colour(synergy: int) -> np.ndarray:
    """RGB of synergy ``synergy`` (the rviz markers use the same colours)."""
    return PALETTE[synergy % len(PALETTE)]


def structure_of(section: dict[str, Any] | None) -> SynergyStructure | None:
    """Return the structure of a card's ``synergy`` section (None: no actuator labels).

    Without centres (e.g. an untrained policy's contiguous groups) each synergy's first
    actuator stands for its centre.
    """
    if not section or 'labels' not in section:
        return None
    labels = [int(v) for v in section['labels']]
    centres = section.get('centres') or [labels.index(s) for s in range(section['count'])]
    return SynergyStructure(tuple(labels), tuple(int(c) for c in centres))


TORSO = -1  # the synergy of the torso and of the bodies it carries: none


def body_synergies(robot: Robot, structure: SynergyStructure) -> dict[int, int]:
    """Body id → synergy of each limb's body and of the unactuated bodies it carries.

    The torso (and what it carries) is :data:`TORSO`.
    """
    synergies = {robot.limbs[0].body_id: TORSO}
    for limb, label in zip(robot.limbs[1:], structure.labels):
        synergies[limb.body_id] = label
    return _carried(robot, synergies)


def dominant_synergies(robot: Robot, basis: np.ndarray) -> dict[int, int]:
    """Body id → the synergy that loads its actuators most, for a soft basis (SAR's).

    ``basis`` is L × K (synergy l's loading on actuator k). A basis has no hard membership,
    so each body that carries actuators takes the synergy with the largest summed |loading|
    over its actuators (the humanoid's thigh: its three hip joints together); unactuated
    bodies take the synergy of the body that carries them, the torso none (:data:`TORSO`).
    """
    model = robot.model
    loads = np.abs(np.asarray(basis, dtype=np.float64))
    if loads.ndim != 2 or loads.shape[1] != model.nu:
        raise ValueError(f'a basis of {robot.name} needs L x {model.nu} loadings, got shape '
                         f'{loads.shape}')
    body_of = model.jnt_bodyid[model.actuator_trnid[:, 0]]
    synergies = {robot.limbs[0].body_id: TORSO}
    for body in sorted(set(body_of.tolist())):
        synergies[body] = int(loads[:, body_of == body].sum(1).argmax())
    return _carried(robot, synergies)


def _carried(robot: Robot, synergies: dict[int, int]) -> dict[int, int]:
    """Complete a body → synergy map: unactuated bodies take their carrier's synergy."""
    model = robot.model
    for body in range(1, model.nbody):
        parent = body
        while parent not in synergies and parent > 0:
            parent = int(model.body_parentid[parent])
        synergies.setdefault(body, synergies.get(parent, TORSO))
    return synergies


def body_colours(robot: Robot, structure: SynergyStructure) -> dict[int, np.ndarray]:
    """Body id → RGB: each limb's body (and the bodies it carries) in its synergy's colour."""
    return colours_of(body_synergies(robot, structure))


def colours_of(synergy_of_body: dict[int, int]) -> dict[int, np.ndarray]:
    """Body id → RGB of a body → synergy map (the torso's :data:`TORSO` grey)."""
    return {body: TORSO_GREY if synergy == TORSO else synergy_colour(synergy)
            for body, synergy in synergy_of_body.items()}
