"""Re-clustering from a critic: value-driven centres, frozen fallbacks, checkpointable state."""

import numpy as np

from synergy_control.methods.solar.clustering import Reclusterer
from synergy_control.robots import get_robot

WALKER = get_robot('walker_7_main')


def samples(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 5)), rng.uniform(0.5, 1.0, size=(n, 6)).astype(np.float32)


def q_hips(observations: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """A critic for which only the two thighs' actions matter."""
    return 3.0 * actions[:, 0] + 3.0 * actions[:, 3]


def test_value_decides_the_centres_and_history_records_it():
    clusterer = Reclusterer([WALKER])
    structure = clusterer.recluster(1000, 'walker_7_main', q_hips, *samples())
    assert structure.labels == (0, 0, 0, 1, 1, 1) and structure.centres == (0, 3)
    record = clusterer.history[-1]
    assert record.step == 1000 and record.converged
    assert record.delta_q[0] > 1.0 and abs(record.delta_q[1]) < 1e-9


def test_without_preference_the_critic_is_ignored():
    clusterer = Reclusterer([WALKER], use_preference=False)
    structure = clusterer.recluster(1000, 'walker_7_main', q_hips, *samples())
    assert structure.centres == (1, 4)  # the morphology alone picks the knees


def test_a_non_finite_critic_keeps_the_structure():
    clusterer = Reclusterer([WALKER])
    before = clusterer.recluster(10, 'walker_7_main', q_hips, *samples())
    after = clusterer.recluster(20, 'walker_7_main',
                                lambda o, a: np.full(len(a), np.nan), *samples())
    assert after == before and not clusterer.history[-1].converged


def test_state_round_trip():
    clusterer = Reclusterer([WALKER, get_robot('walker_4_main')])
    clusterer.recluster(10, 'walker_7_main', q_hips, *samples())
    restored = Reclusterer([WALKER, get_robot('walker_4_main')])
    restored.load_state_dict(clusterer.state_dict())
    assert restored.structures == clusterer.structures
    assert restored.history == clusterer.history
