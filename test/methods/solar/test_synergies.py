"""SOLAR synergy discovery on hand-made limb graphs whose clusters are known."""

import numpy as np
import pytest

from synergy_control.methods.solar.synergies import affinity, delta_q, discover, value_preference
from synergy_control.robots import get_robot
from synergy_control.synergy import SynergyStructure


def hop_distances(parents: list[int]) -> np.ndarray:
    """Floyd–Warshall hop distances of a tree given each node's parent (-1: the root)."""
    n = len(parents)
    dist = np.full((n, n), np.inf)
    np.fill_diagonal(dist, 0.0)
    for child, parent in enumerate(parents):
        if parent >= 0:
            dist[child, parent] = dist[parent, child] = 1.0
    for k in range(n):
        dist = np.minimum(dist, dist[:, k:k + 1] + dist[k:k + 1, :])
    return dist


# torso with two three-limb legs: actuators 0-2 (right), 3-5 (left), like walker_7_main
TWO_LEGS = hop_distances([-1, 0, 1, 2, 0, 4, 5])


def test_affinity_drops_the_torso_and_decays_with_hops():
    similarity = affinity(TWO_LEGS)
    assert similarity.shape == (6, 6)
    assert similarity[0, 1] == pytest.approx(np.exp(-1))
    assert similarity[0, 3] == pytest.approx(np.exp(-2))  # the hips meet through the torso
    assert similarity[2, 5] == pytest.approx(np.exp(-6))


def test_each_leg_is_a_synergy_centred_where_the_value_says():
    found = discover(TWO_LEGS, value_preference(np.array([3.0, 0, 0, 3.0, 0, 0])))
    assert found.converged
    assert found.structure == SynergyStructure((0, 0, 0, 1, 1, 1), (0, 3))
    knees = discover(TWO_LEGS, value_preference(np.array([0, 3.0, 0, 0, 3.0, 0])))
    assert knees.structure.centres == (1, 4)


def test_high_preference_makes_every_actuator_its_own_synergy():
    found = discover(TWO_LEGS, np.full(6, 1.0))
    assert found.structure.count == 6
    assert found.structure.labels == (0, 1, 2, 3, 4, 5)


def test_without_preference_the_morphology_alone_decides():
    assert discover(TWO_LEGS).structure.labels == (0, 0, 0, 1, 1, 1)


def test_same_seed_same_structure_and_labels_are_canonical():
    preference = value_preference(np.random.default_rng(3).normal(size=6))
    runs = [discover(TWO_LEGS, preference, seed=7).structure for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]
    assert runs[0].labels[0] == 0  # numbered by first appearance in actuator order


def test_non_convergence_keeps_the_previous_structure():
    previous = SynergyStructure((0, 1, 1, 2, 3, 3), (0, 1, 3, 4))
    found = discover(TWO_LEGS, value_preference(np.zeros(6)), previous=previous, max_iter=1)
    assert not found.converged
    assert found.structure == previous
    first = discover(TWO_LEGS, value_preference(np.zeros(6)), max_iter=1)
    assert first.structure == SynergyStructure.single(6)


def test_bad_preference_is_refused():
    with pytest.raises(ValueError, match='6 finite values'):
        discover(TWO_LEGS, np.array([0.1, np.nan, 0.1, 0.1, 0.1, 0.1]))
    with pytest.raises(ValueError, match='non-finite'):
        value_preference(np.array([0.0, np.inf]))


def test_delta_q_zeroes_one_actuator_at_a_time():
    weights = np.array([1.0, -2.0, 0.5])
    actions = np.random.default_rng(0).uniform(-1, 1, size=(50, 3)).astype(np.float32)
    drops = delta_q(lambda obs, act: act @ weights, np.zeros((50, 4)), actions)
    np.testing.assert_allclose(drops, weights * actions.mean(0), rtol=1e-5)
    assert value_preference(drops).sum() == pytest.approx(1.0)


def test_real_morphologies_give_one_synergy_per_limb_chain():
    walker = get_robot('walker_7_main')
    assert discover(walker.hop_distances, value_preference(np.zeros(6))).structure.labels == \
        (0, 0, 0, 1, 1, 1)
    humanoid = get_robot('humanoid_2d_9_full')  # two legs, two arms: four synergies
    found = discover(humanoid.hop_distances, value_preference(np.zeros(8)))
    assert found.structure.labels == (0, 0, 1, 1, 2, 2, 3, 3)
