"""Task embeddings: sphere projection, blends, task commands and their refusals."""

import numpy as np
import pytest

from synergy_control.task_embedding import TaskEmbeddingError, blend, normalise


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


CARD_TASKS = {'vel:1': [1.0, 0.0, 0.0], 'vel:2': [0.0, 1.0, 0.0], 'vel:4': [0.0, 0.0, 1.0],
              'jump:5': [0.6, 0.8, 0.0]}


def test_task_commands_name_blend_or_give_a_vector():
    from synergy_control.task_embedding import parse_task
    np.testing.assert_allclose(parse_task('vel:2', CARD_TASKS, 3), [0, 1, 0])
    np.testing.assert_allclose(parse_task(' vel:1 vel:2 0.5 ', CARD_TASKS, 3),
                               [np.sqrt(0.5), np.sqrt(0.5), 0])
    np.testing.assert_allclose(parse_task('[0, 0, 2]', CARD_TASKS, 3), [0, 0, 1])


@pytest.mark.parametrize('text, match', [
    ('vel:9', "unknown task 'vel:9'; known: jump:5, vel:1, vel:2, vel:4"),
    ('vel:1 vel:2', 'expected NAME'), ('vel:1 vel:2 x', "'x' is not a number"),
    ('vel:1 vel:2 1.5', r'beta must be in \[0, 1\]'), ('[1, a, 2]', 'not a list of numbers'),
    ('[1, 2]', '3 values'), ('[0, 0, 0]', 'zero'), ('[nan, 0, 1]', 'non-finite')])
def test_malformed_task_commands_are_refused_naming_the_fault(text, match):
    from synergy_control.task_embedding import parse_task
    with pytest.raises(TaskEmbeddingError, match=match):
        parse_task(text, CARD_TASKS, 3)


def test_speed_commands_blend_the_two_nearest_trained_speeds():
    from synergy_control.task_embedding import velocity_task
    assert velocity_task(2.0, CARD_TASKS)[0] == 'vel:2'
    command, vector = velocity_task(3.0, CARD_TASKS)
    assert command == 'vel:2 vel:4 0.5'
    np.testing.assert_allclose(vector, [0, np.sqrt(0.5), np.sqrt(0.5)])
    assert velocity_task(1.25, CARD_TASKS)[0] == 'vel:1 vel:2 0.75'
    with pytest.raises(TaskEmbeddingError, match=r'outside the trained range \[1, 4\]'):
        velocity_task(5.0, CARD_TASKS)
    assert velocity_task(5.0, CARD_TASKS, clamp=True)[0] == 'vel:4'
    assert velocity_task(0.0, CARD_TASKS, clamp=True)[0] == 'vel:1'
    with pytest.raises(TaskEmbeddingError, match='finite'):
        velocity_task(float('nan'), CARD_TASKS, clamp=True)
    with pytest.raises(TaskEmbeddingError, match='no velocity tasks'):
        velocity_task(1.0, {'jump:5': [1.0, 0, 0]})
