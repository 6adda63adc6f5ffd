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


#: Characters of a refused command quoted in an error (a 10 kB string must not become a
#: 10 kB log line).
QUOTE_LIMIT = 60
#: Below this norm a vector has no direction (also what is left of two cancelling tasks).
ZERO_NORM = 1e-9
#: Largest component whose squares are summed as they are: above it the sum of squares can
#: overflow (``[1e154] * 3`` already does), so the vector is first scaled by it.
LARGEST_UNSCALED = 1e100


def quoted(text: object) -> str:
    """``text`` as an error quotes it: cut to :data:`QUOTE_LIMIT` characters, length said."""
    text = str(text)
    if len(text) <= QUOTE_LIMIT:
        return text
    return f'{text[:QUOTE_LIMIT]}... ({len(text)} characters)'


def normalise(vector: np.ndarray, dim: int | None = None) -> np.ndarray:
    """Project onto the unit sphere, refusing what has no direction (EAR's f(·)).

    Overflow-safe: a vector with a component above :data:`LARGEST_UNSCALED` is divided by
    its largest magnitude before the norm (which would otherwise be inf and turn the vector
    into zeros); ordinary vectors take the direct path, bit for bit as before.
    """
    vector = np.asarray(vector, dtype=np.float64)
    if vector.ndim != 1 or (dim is not None and vector.shape != (dim,)):
        raise TaskEmbeddingError(f'task embedding must have {dim} values, got shape '
                                 f'{vector.shape}')
    if not np.all(np.isfinite(vector)):
        raise TaskEmbeddingError(f'task embedding has non-finite values: '
                                 f'{quoted(vector.tolist())}')
    magnitude = float(np.max(np.abs(vector), initial=0.0))
    if magnitude > LARGEST_UNSCALED:
        vector = vector / magnitude
    norm = float(np.linalg.norm(vector))
    if norm < ZERO_NORM:
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
    - ``[0.1, 0.9, -0.2]`` — a raw vector, normalised onto the sphere (strictly a list:
      brackets at both ends, one number between each pair of commas).
    Raises :class:`TaskEmbeddingError` naming what is wrong (the command quoted, cut to
    :data:`QUOTE_LIMIT` characters).
    """
    text = text.strip()
    if text.startswith('['):
        return normalise(parse_vector(text), dim)
    words = text.split()
    if len(words) not in (1, 3):
        raise TaskEmbeddingError(f"task '{quoted(text)}': expected NAME, 'FIRST SECOND BETA' "
                                 'or [x, y, ...]')

    def named(name: str) -> np.ndarray:
        if name not in embeddings:
            raise TaskEmbeddingError(f"unknown task '{quoted(name)}'; known: "
                                     f"{', '.join(sorted(embeddings))}")
        return normalise(np.array(embeddings[name]), dim)

    if len(words) == 1:
        return named(words[0])
    try:
        beta = float(words[2])
    except ValueError:
        raise TaskEmbeddingError(f"task '{quoted(text)}': blend weight '{quoted(words[2])}' "
                                 'is not a number') from None
    return blend(named(words[0]), named(words[1]), beta)


def parse_vector(text: str) -> np.ndarray:
    """Read ``'[x, y, ...]'`` strictly: ``'[1,,0,0]'``, ``'[1, 0'`` or ``'[1_0, 0]'`` are refused.

    Each value is what ``float`` reads (``nan`` and ``inf`` too, so that :func:`normalise`
    refuses them as non-finite), without digit-group underscores.
    """
    text = text.strip()
    if not (text.startswith('[') and text.endswith(']')):
        raise TaskEmbeddingError(f"task vector '{quoted(text)}' must be one list "
                                 "'[x, y, ...]'")
    values = []
    for index, item in enumerate(text[1:-1].split(','), start=1):
        item = item.strip()
        try:
            if not item or '_' in item:  # float('') fails, float('1_0') would read 10
                raise ValueError(item)
            values.append(float(item))
        except ValueError:
            what = 'is empty' if not item else f"'{quoted(item)}' is not a number"
            raise TaskEmbeddingError(f"task vector '{quoted(text)}' is not a list of numbers: "
                                     f'value {index} {what}') from None
    return np.array(values)


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
