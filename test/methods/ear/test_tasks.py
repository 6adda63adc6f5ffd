"""EAR task embeddings: sphere projection, blends, refusals, and CEM on a known optimum."""

import numpy as np
import pytest

from synergy_control.methods.ear.tasks import (TaskEmbeddingError, blend, cem_adapt,
                                               normalise)


def test_blend_stays_on_the_sphere_between_its_parts():
    east, north = np.array([1.0, 0, 0]), np.array([0, 1.0, 0])
    middle = blend(east, north, 0.5)
    np.testing.assert_allclose(middle, [np.sqrt(0.5), np.sqrt(0.5), 0])
    np.testing.assert_allclose(blend(east, north, 1.0), east)
    np.testing.assert_allclose(blend(east, north, 0.0), north)
    angles = [np.arccos(blend(east, north, b) @ east) for b in (0.9, 0.6, 0.3)]
    assert angles == sorted(angles)  # less of east, further from it


@pytest.mark.parametrize('vector, match', [([1.0, 0.0], '3 values'),
                                           ([np.nan, 0.0, 1.0], 'non-finite'),
                                           ([0.0, 0.0, 0.0], 'zero')])
def test_malformed_embeddings_are_refused(vector, match):
    with pytest.raises(TaskEmbeddingError, match=match):
        normalise(np.array(vector), 3)


def test_opposite_tasks_do_not_blend_at_the_midpoint_and_beta_is_checked():
    with pytest.raises(TaskEmbeddingError, match='zero'):
        blend(np.array([1.0, 0, 0]), np.array([-1.0, 0, 0]), 0.5)
    with pytest.raises(TaskEmbeddingError, match='beta'):
        blend(np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), 1.5)


def test_cem_finds_a_hidden_direction_with_the_reference_budget():
    target = normalise(np.array([0.3, -0.8, 0.5]))
    result = cem_adapt(lambda z: float(z @ target), 3, seed=1)
    assert result.evaluations == 10 * 6 * 15
    assert result.score > 0.99
    assert np.linalg.norm(result.embedding) == pytest.approx(1.0)
    assert result.history == sorted(result.history)  # elites are kept: never worse
