"""A policy's synergy structure: its actuators grouped into synergies, and their colours.

Torch-free, method-free: the rule of a structure (:meth:`SynergyStructure.check`) and the one
strict parser of a card's ``synergy`` section (:meth:`SynergyStructure.from_card`) live here,
used by the card's validation, the runtime and the node; SOLAR finds a structure
(:mod:`synergy_control.methods.solar.synergies`), and the picture of ``synergies show`` and the
rviz markers colour it with one palette.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from synergy_control.robots import Robot

#: The card's ``synergy.method`` of a clustered structure (SOLAR's affinity propagation).
METHOD = 'solar-affinity-propagation'


class StructureError(ValueError):
    """A synergy structure that breaks the rule; the message names the card key at fault."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"key '{key}'{problem}")


def _is_index(value: Any, high: int) -> bool:
    """Whether ``value`` is an integer (not a bool) from 0 below ``high``."""
    return (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
            and 0 <= value < high)


def _matrix(value: Any, key: str) -> np.ndarray:
    """Return a K x L 0/1 membership as an array; StructureError naming ``key`` if not one."""
    try:
        matrix = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        matrix = None
    if matrix is None or matrix.ndim != 2 or not np.all((matrix == 0) | (matrix == 1)):
        raise StructureError(key, f': expected a K x L 0/1 matrix, got {value!r}')
    return matrix


def _actuator_list(indices: np.ndarray, names: Sequence[str] | None) -> str:
    """Actuator indices for an error, each with its name when known: ``2 ('foot_joint')``."""
    return ', '.join(f"{i} ('{names[i]}')" if names and i < len(names) else str(i)
                     for i in indices.tolist())


@dataclass(frozen=True)
class SynergyStructure:
    """A clustering of a robot's K actuators into L synergies.

    ``labels[k]`` is actuator k's synergy (0..L-1, numbered by first appearance in actuator
    order, so equal clusterings compare equal); ``centres[l]`` is the actuator index of
    synergy l's exemplar. The rule (:meth:`check`) holds for every structure built.
    """

    labels: tuple[int, ...]
    centres: tuple[int, ...]

    def __post_init__(self) -> None:
        self.check(self.labels, self.centres)

    @staticmethod
    def check(labels: Sequence[Any], centres: Sequence[Any], key: str = 'synergy',
              names: Sequence[str] | None = None) -> None:
        """Raise StructureError unless ``labels`` and ``centres`` form a structure.

        The rule, in its one place: every actuator in exactly one synergy (a label from 0
        below L = len(centres)), no synergy empty, each centre an actuator of its own synergy.
        ``key`` prefixes the card keys the errors name; ``names``: the actuators' names.
        """
        if len(labels) == 0 or len(centres) == 0:
            raise StructureError(key, ': a synergy structure needs at least one actuator and '
                                 'one synergy')
        count = len(centres)
        for index, label in enumerate(labels):
            if not _is_index(label, count):
                raise StructureError(f'{key}.labels[{index}]', f': expected an integer from 0 '
                                     f'below {count} (labels use each of 0..{count - 1}), '
                                     f'got {label!r}')
        SynergyStructure.check_membership(np.eye(count)[list(labels)], f'{key}.labels', names)
        for index, centre in enumerate(centres):
            if not _is_index(centre, len(labels)):
                raise StructureError(f'{key}.centres[{index}]', f': expected an integer from 0 '
                                     f'below {len(labels)}, got {centre!r}')
        if any(labels[centre] != synergy for synergy, centre in enumerate(centres)):
            raise StructureError(f'{key}.centres', ': expected each synergy centred on one of '
                                 'its own actuators (centre l in its own synergy l; labels '
                                 f'{list(labels)}), got {list(centres)}')

    @staticmethod
    def check_membership(membership: np.ndarray, key: str,
                         names: Sequence[str] | None = None) -> None:
        """Refuse a K x L 0/1 membership that leaves a joint dead or drives it twice.

        An all-zero membership commands zero everywhere; an actuator in no synergy never
        moves; one in two gets two synergies' activations at once; an empty synergy is an
        output that drives nothing.
        """
        if not membership.any():
            raise StructureError(key, ' is all zero: no actuator would move')
        per_actuator, per_synergy = membership.sum(axis=1), membership.sum(axis=0)
        dead, shared = np.flatnonzero(per_actuator == 0), np.flatnonzero(per_actuator > 1)
        if dead.size:
            raise StructureError(key, f': actuator {_actuator_list(dead, names)} belongs to '
                                 'no synergy, so its joint would never move')
        if shared.size:
            raise StructureError(key, f': actuator {_actuator_list(shared, names)} is in '
                                 'several synergies; a cluster structure puts each actuator '
                                 'in exactly one')
        if not per_synergy.all():
            raise StructureError(key, f': synergy {np.flatnonzero(per_synergy == 0).tolist()} '
                                 'has no actuator')

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

    @classmethod
    def contiguous(cls, actuators: int, synergies: int) -> 'SynergyStructure':
        """Actuators in ``synergies`` contiguous groups, each centred on its first actuator.

        The structure of an untrained policy: nothing was discovered, so the centre is no
        exemplar, only the first actuator of each group.
        """
        labels = tuple(k * synergies // actuators for k in range(actuators))
        return cls(labels, tuple(labels.index(s) for s in range(synergies)))

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

    def to_card(self, method: str = METHOD, **fit: Any) -> dict[str, Any]:
        """Return the card's ``synergy`` section (``fit``: how it was found, e.g. converged)."""
        return {'method': method, 'count': self.count, 'labels': list(self.labels),
                'centres': list(self.centres), 'membership': self.membership.astype(int).tolist(),
                'fit': dict(fit)}

    @staticmethod
    def clustered(section: dict[str, Any] | None) -> bool:
        """Whether a card's ``synergy`` section is a cluster structure (not SAR's basis)."""
        return bool(section) and not {'labels', 'centres', 'membership'}.isdisjoint(section)

    @classmethod
    def from_card(cls, section: dict[str, Any], key: str = 'synergy',
                  names: Sequence[str] | None = None) -> 'SynergyStructure':
        """Parse a card's ``synergy`` section: the one strict parser of a cluster structure.

        ``labels`` and ``centres`` are required (:meth:`check`), a ``count`` must equal the
        number of centres, and a ``membership`` (the graph's input) must agree with the
        labels. StructureError names the key, prefixed by ``key``; ``names``: the actuators'.
        """
        membership = section.get('membership')
        if membership is not None:
            membership = _matrix(membership, f'{key}.membership')
        labels, centres = section.get('labels'), section.get('centres')
        if labels is None:
            if membership is not None:  # say what is wrong with the matrix given, if anything
                cls.check_membership(membership, f'{key}.membership', names)
            raise StructureError(f'{key}.labels', " is missing: a cluster structure names "
                                 "each actuator's synergy in 'labels'")
        if centres is None:
            raise StructureError(f'{key}.centres', " is missing: a cluster structure names "
                                 "each synergy's centre actuator in 'centres'")
        count = section.get('count', len(centres) if isinstance(centres, list) else None)
        if not isinstance(labels, list):
            raise StructureError(f'{key}.labels', f': expected a list of synergy indices, got '
                                 f'{labels!r}')
        if not isinstance(centres, list) or len(centres) != count:
            raise StructureError(f'{key}.centres', f': expected a list of {count} actuator '
                                 f'indices, got {centres!r}')
        cls.check(labels, centres, key, names)
        structure = cls(tuple(int(v) for v in labels), tuple(int(v) for v in centres))
        if membership is not None and not np.array_equal(membership, structure.membership):
            raise StructureError(f'{key}.membership', f" disagrees with '{key}.labels'")
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
