"""Latent task embeddings on the unit sphere: normalise, blend, parse a task command.

Torch-free and method-free: the runtime, the launch plan and the policy node use the same
functions to turn a named task, a blend of two, or a raw vector into the embedding an
exported multi-task policy takes as an input. EAR's CEM search over the sphere is
:mod:`synergy_control.methods.ear.adapt`.
"""

from __future__ import annotations

import numpy as np

from synergy_control.robots import Task


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


def parse_task(text: str, embeddings: dict[str, list[float]], dim: int) -> np.ndarray:
    """Turn a task command into a unit embedding; the one syntax of the CLI, node and topic.

    - ``vel:3`` — a named task of the policy (its card's ``tasks.embeddings``);
    - ``vel:3 vel:5 0.25`` — normalise(0.25 z(vel:3) + 0.75 z(vel:5)): interpolation within a
      family, composition across families (``vel:5 jump:5 0.5``);
    - ``[0.1, 0.9, -0.2]`` — a raw vector, normalised onto the sphere.
    Raises :class:`TaskEmbeddingError` naming what is wrong.
    """
    text = text.strip()
    if text.startswith('['):
        try:
            values = [float(v) for v in text.strip('[]').split(',') if v.strip()]
        except ValueError:
            raise TaskEmbeddingError(f"task vector '{text}' is not a list of numbers") from None
        return normalise(np.array(values), dim)
    words = text.split()
    if len(words) not in (1, 3):
        raise TaskEmbeddingError(f"task '{text}': expected NAME, 'FIRST SECOND BETA' or "
                                 '[x, y, ...]')

    def named(name: str) -> np.ndarray:
        if name not in embeddings:
            raise TaskEmbeddingError(f"unknown task '{name}'; known: "
                                     f"{', '.join(sorted(embeddings))}")
        return normalise(np.array(embeddings[name]), dim)

    if len(words) == 1:
        return named(words[0])
    try:
        beta = float(words[2])
    except ValueError:
        raise TaskEmbeddingError(f"task '{text}': blend weight '{words[2]}' is not a number") \
            from None
    return blend(named(words[0]), named(words[1]), beta)


def velocity_task(speed: float, embeddings: dict[str, list[float]], *,
                  clamp: bool = False) -> tuple[str, np.ndarray]:
    """Embedding for a forward-speed command: a blend of the two nearest trained speeds.

    Works on the ``vel:<speed>`` tasks of the card. A speed outside the trained range is
    refused (:class:`TaskEmbeddingError`) unless ``clamp``, which takes the nearest end.
    Returns the task command (``parse_task`` syntax) and its embedding.
    """
    speeds = sorted((float(name.split(':', 1)[1]), name) for name in embeddings
                    if name.startswith('vel:'))
    if not speeds:
        raise TaskEmbeddingError('the policy has no velocity tasks (vel:<speed>)')
    if not np.isfinite(speed):
        raise TaskEmbeddingError(f'speed command must be finite, got {speed}')
    low, high = speeds[0][0], speeds[-1][0]
    if not low <= speed <= high:
        if not clamp:
            raise TaskEmbeddingError(f'speed {speed:g} m/s is outside the trained range '
                                     f'[{low:g}, {high:g}] m/s')
        speed = min(max(speed, low), high)
    above = next(i for i, (v, _) in enumerate(speeds) if v >= speed)
    if speeds[above][0] == speed or above == 0:
        command = speeds[above][1]
    else:
        (v_low, slow), (v_high, fast) = speeds[above - 1], speeds[above]
        command = f'{slow} {fast} {(v_high - speed) / (v_high - v_low):.6g}'
    return command, parse_task(command, embeddings, len(next(iter(embeddings.values()))))


def command_for_task(task: str, embeddings: dict[str, list[float]]) -> str:
    """Return the task command that makes a policy with these named tasks pursue ``task``.

    ``task`` is an environment task (``vel:4.5``): a named task of the policy (``vel:4.5``
    and ``vel:4.50`` are the same), or for an untrained speed the blend of the two nearest
    trained ones (what the node does with a velocity command). Other tasks are refused.
    """
    wanted = Task.parse(task)
    for name in embeddings:
        if Task.parse(name) == wanted:
            return name
    if wanted.kind == 'vel':
        return velocity_task(wanted.target, embeddings)[0]
    raise TaskEmbeddingError(f"task '{task}' is not one of the policy's tasks "
                             f"({', '.join(sorted(embeddings))}): give the task command to use")
