"""Periodic re-clustering of every trained morphology's synergies (SOLAR's trainer hook core).

Between two re-clusterings a morphology's structure is frozen. Each attempt is recorded
(step, ΔQ, structure, convergence), which is what the cluster-evolution timeline plots and
what a checkpoint saves, so a resumed run continues with the structures it had.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from synergy_control.methods.solar.synergies import delta_q, discover, value_preference
from synergy_control.robots import Robot
from synergy_control.synergy import SynergyStructure

log = logging.getLogger(__name__)

#: (observations [N, obs], actions [N, K]) → Q [N] of one morphology: SOLAR's first critic.
QFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ClusteringRecord:
    """One re-clustering attempt of one morphology."""

    step: int
    robot: str
    labels: tuple[int, ...]
    centres: tuple[int, ...]
    converged: bool
    delta_q: tuple[float, ...]


class Reclusterer:
    """Holds the synergy structure of each morphology and re-clusters them on demand.

    :param robots: the morphologies trained on (zero-shot ones get a structure from their
        morphology alone: their data is never used).
    :param use_preference: False is the "SOLAR w/o preference" ablation (affinity only).
    :param preference_scale: SOLAR's released code multiplies the softmax by 1.2.
    """

    def __init__(self, robots: list[Robot], *, use_preference: bool = True,
                 preference_scale: float = 1.0, seed: int = 0):
        self.robots = {robot.name: robot for robot in robots}
        self.use_preference, self.preference_scale, self.seed = (use_preference,
                                                                 preference_scale, seed)
        self.structures = {name: discover(robot.hop_distances, None, seed=seed).structure
                           for name, robot in self.robots.items()}
        self.history: list[ClusteringRecord] = []

    def recluster(self, step: int, robot: str, q_value: QFunction, observations: np.ndarray,
                  actions: np.ndarray) -> SynergyStructure:
        """Re-cluster ``robot`` from ΔQ on sampled transitions; return the structure in force."""
        return self.assign(step, robot, delta_q(q_value, observations, actions))

    def assign(self, step: int, robot: str, drops: np.ndarray) -> SynergyStructure:
        """Re-cluster ``robot`` from given ΔQ values (a zero-shot robot's are borrowed)."""
        hops = self.robots[robot].hop_distances
        if not np.all(np.isfinite(drops)):
            log.warning('%s: ΔQ is not finite at step %d; keeping its synergies', robot, step)
            found_structure, converged = self.structures[robot], False
        else:
            preference = (value_preference(drops, self.preference_scale)
                          if self.use_preference else None)
            found = discover(hops, preference, previous=self.structures[robot], seed=self.seed)
            if not found.converged:
                log.warning('%s: affinity propagation did not converge in %d iterations at '
                            'step %d; keeping its synergies', robot, found.iterations, step)
            found_structure, converged = found.structure, found.converged
        self.structures[robot] = found_structure
        self.history.append(ClusteringRecord(step, robot, found_structure.labels,
                                             found_structure.centres, converged,
                                             tuple(float(d) for d in drops)))
        return found_structure

    def borrowed_delta_q(self, robot: str, measured: dict[str, np.ndarray]) -> np.ndarray:
        """ΔQ of a robot without data, from the robots ``measured`` (name → ΔQ per actuator).

        Each actuator takes the mean ΔQ of the measured robots' actuators on a limb of the
        same name (a zero-shot walker's thigh, the trained walkers' thighs); a limb no
        measured robot has takes the mean of all measured values.
        """
        by_limb: dict[str, list[float]] = {}
        for name, drops in measured.items():
            for limb, drop in zip(self.robots[name].limbs[1:], drops):
                by_limb.setdefault(limb.name, []).append(float(drop))
        fallback = float(np.mean([d for values in by_limb.values() for d in values]))
        return np.array([np.mean(by_limb[limb.name]) if limb.name in by_limb else fallback
                         for limb in self.robots[robot].limbs[1:]])

    def state_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint: current structures and the whole history."""
        return {'structures': {name: {'labels': list(s.labels), 'centres': list(s.centres)}
                               for name, s in self.structures.items()},
                'history': [asdict(record) for record in self.history]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (robots must be the same set)."""
        if set(state['structures']) != set(self.robots):
            raise ValueError(f"saved synergies are for {sorted(state['structures'])}, this run "
                             f'trains {sorted(self.robots)}')
        self.structures = {name: SynergyStructure(tuple(s['labels']), tuple(s['centres']))
                           for name, s in state['structures'].items()}
        self.history = [ClusteringRecord(**{**r, 'labels': tuple(r['labels']),
                                            'centres': tuple(r['centres']),
                                            'delta_q': tuple(r['delta_q'])})
                        for r in state['history']]
