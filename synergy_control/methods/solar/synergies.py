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

import numpy as np

from synergy_control.synergy import SynergyStructure


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
