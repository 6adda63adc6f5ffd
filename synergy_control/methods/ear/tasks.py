"""Latent task embeddings on the unit sphere: interpolation, composition and CEM adaptation.

Torch-free: the runtime and the policy node use the same functions to turn a named task, a
blend of two, or a raw vector into the embedding the exported policy takes as an input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


class TaskEmbeddingError(ValueError):
    """A task embedding that cannot be used: wrong length, non-finite, or zero."""


def normalise(vector: np.ndarray, dim: int | None = None) -> np.ndarray:
    """Project onto the unit sphere, refusing what has no direction (EAR's f(·))."""
    vector = np.asarray(vector, dtype=np.float64)
    if vector.ndim != 1 or (dim is not None and vector.shape != (dim,)):
        raise TaskEmbeddingError(f'task embedding must have {dim} values, got shape '
                                 f'{vector.shape}')
    if not np.all(np.isfinite(vector)):
        raise TaskEmbeddingError(f'task embedding has non-finite values: {vector.tolist()}')
    norm = float(np.linalg.norm(vector))
    if norm < 1e-9:
        raise TaskEmbeddingError('task embedding is zero: it has no direction on the sphere')
    return vector / norm


def blend(first: np.ndarray, second: np.ndarray, beta: float) -> np.ndarray:
    """normalise(β z_i + (1 − β) z_j): interpolation within a task family, composition across.

    The two embeddings must not cancel (antipodal at β = 0.5).
    """
    if not (np.isfinite(beta) and 0.0 <= beta <= 1.0):
        raise TaskEmbeddingError(f'blend weight beta must be in [0, 1], got {beta}')
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    return normalise(beta * first + (1.0 - beta) * second, len(first))


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
