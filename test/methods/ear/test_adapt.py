"""EAR's CEM adaptation finds a task direction on the sphere."""

import numpy as np
import pytest

from synergy_control.methods.ear.adapt import cem_adapt
from synergy_control.task_embedding import normalise


def test_cem_finds_a_hidden_direction_with_the_reference_budget():
    target = normalise(np.array([0.3, -0.8, 0.5]))
    result = cem_adapt(lambda z: float(z @ target), 3, seed=1)
    assert result.evaluations == 10 * 6 * 15
    assert result.score > 0.99
    assert np.linalg.norm(result.embedding) == pytest.approx(1.0)
    assert result.history == sorted(result.history)  # elites are kept: never worse
