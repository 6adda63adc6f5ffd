"""SOLAR's synergy discovery: affinity propagation over the limb graph (ROS-free, torch-free).

Each actuator is a data point. The similarity between two actuators is ``exp(-D)`` of their
hop distance ``D`` in the limb tree (morphological context, fixed for a robot); the diagonal
(the *preference*: how likely an actuator is to become a cluster centre) is the softmax of
``ΔQ_k``, the drop in the critic's value when actuator ``k``'s action is zeroed (functional
importance, re-estimated as the critic learns). A cluster is a synergy.

Affinity propagation may not converge; then the previous structure is kept (SOLAR's
released code would go on with whatever labels scikit-learn returned, ``-1`` included).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

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


def affinity(hop_distances: np.ndarray) -> np.ndarray:
    """Actuator-to-actuator affinity exp(-D) from the limb tree's hop distances.

    ``hop_distances`` is the robot's (K+1) × (K+1) matrix over limbs, torso first; the torso
    drives no actuator, so its row and column are dropped (paths through it still count).
    """
    return np.exp(-np.asarray(hop_distances, dtype=np.float64)[1:, 1:])


def value_preference(delta_q: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Softmax of ΔQ over actuators (SOLAR's released code multiplies it by ``scale`` 1.2)."""
    delta_q = np.asarray(delta_q, dtype=np.float64)
    if not np.all(np.isfinite(delta_q)):
        raise ValueError(f'ΔQ has non-finite values: {delta_q.tolist()}')
    weights = np.exp(delta_q - delta_q.max())
    return scale * weights / weights.sum()


def delta_q(q_value: Callable[[np.ndarray, np.ndarray], np.ndarray], observations: np.ndarray,
            actions: np.ndarray) -> np.ndarray:
    """ΔQ_k = mean over the batch of Q(s, a) − Q(s, a with a_k = 0), for each actuator k.

    ``q_value`` maps a batch of observations and actions to one value per row (SOLAR uses the
    first twin critic).
    """
    actions = np.asarray(actions, dtype=np.float32)
    base = np.asarray(q_value(observations, actions), dtype=np.float64)
    drops = []
    for k in range(actions.shape[1]):
        zeroed = actions.copy()
        zeroed[:, k] = 0.0
        drops.append(float(np.mean(base - np.asarray(q_value(observations, zeroed)))))
    return np.asarray(drops)


@dataclass(frozen=True)
class Discovery:
    """One clustering attempt: the structure in force afterwards and whether AP converged."""

    structure: SynergyStructure
    converged: bool
    iterations: int


def discover(hop_distances: np.ndarray, preference: np.ndarray | None = None, *,
             previous: SynergyStructure | None = None, seed: int = 0, damping: float = 0.5,
             max_iter: int = 200, convergence_iter: int = 15) -> Discovery:
    """Cluster a robot's actuators into synergies by affinity propagation.

    ``preference`` is one value per actuator (:func:`value_preference`); ``None`` uses
    scikit-learn's uniform median preference (the "SOLAR w/o preference" ablation). When AP
    does not converge, ``previous`` (or one synergy of everything) stays in force.
    """
    similarity = affinity(hop_distances)
    actuators = len(similarity)
    fallback = previous if previous is not None else SynergyStructure.single(actuators)
    if preference is not None:
        preference = np.asarray(preference, dtype=np.float64)
        if preference.shape != (actuators,) or not np.all(np.isfinite(preference)):
            raise ValueError(f'preference must be {actuators} finite values, got '
                             f'{preference.tolist()}')
    if actuators == 1:
        return Discovery(SynergyStructure.single(1), True, 0)
    from sklearn.cluster import AffinityPropagation  # deferred: the policy node reads
    from sklearn.exceptions import ConvergenceWarning  # structures, never clusters
    model = AffinityPropagation(affinity='precomputed', preference=preference, damping=damping,
                                max_iter=max_iter, convergence_iter=convergence_iter,
                                random_state=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always', ConvergenceWarning)
        labels = model.fit_predict(similarity)
    iterations = int(model.n_iter_)
    # scikit-learn warns (and may still return labels) when the messages never settled
    converged = labels.min() >= 0 and not any(
        issubclass(w.category, ConvergenceWarning) for w in caught)
    if not converged:
        return Discovery(fallback, False, iterations)
    exemplars = np.asarray(model.cluster_centers_indices_)[labels]
    return Discovery(SynergyStructure.from_exemplars(exemplars), True, iterations)
