"""EAR's adaptation to a new task: CEM over the task-embedding sphere, the networks frozen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from synergy_control.task_embedding import normalise


@dataclass(frozen=True)
class CEMResult:
    """The best embedding found, its score, and the best score of each iteration."""

    embedding: np.ndarray
    score: float
    history: list[float]
    evaluations: int


def cem_adapt(score: Callable[[np.ndarray], float], dim: int, *, iterations: int = 10,
              elites: int = 6, samples_per_elite: int = 14, noise: float = 0.5,
              seed: int = 0) -> CEMResult:
    """Search the task-embedding sphere for a new task (EAR, Algorithm 2); networks frozen.

    Starts from ``elites`` random unit vectors; each iteration scores every elite and
    ``samples_per_elite`` perturbations N(0, noise²) of it, re-normalised (90 candidates with
    the reference's 6 and 14), and keeps the best ``elites``. ``score`` runs one episode
    with the given embedding and returns its return.
    """
    rng = np.random.default_rng(seed)
    elite_set = [normalise(v) for v in rng.normal(size=(elites, dim))]
    history: list[float] = []
    best, best_score, evaluations = elite_set[0], -np.inf, 0
    for _ in range(iterations):
        candidates = list(elite_set)
        for centre in elite_set:
            candidates += [normalise(centre + noise * rng.normal(size=dim))
                           for _ in range(samples_per_elite)]
        scores = np.array([score(candidate) for candidate in candidates])
        evaluations += len(candidates)
        order = np.argsort(-scores, kind='stable')
        elite_set = [candidates[i] for i in order[:elites]]
        if scores[order[0]] > best_score:
            best, best_score = candidates[order[0]], float(scores[order[0]])
        history.append(float(scores[order[0]]))
    return CEMResult(best, best_score, history, evaluations)
