"""SOLAR networks: low rank, padding and batch-order invariance, every actuator can act."""

import numpy as np
import pytest
import torch

from synergy_control.methods.solar.networks import SynergyActor, SynergyCritic
from synergy_control.observation import ObservationBuilder, TOKEN_SIZE
from synergy_control.robots import get_robot
from synergy_control.synergy import SynergyStructure


def morphology(variant: str, labels: tuple[int, ...], centres: tuple[int, ...], seed: int = 0
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """One robot's tokens [T, 19] at a random state and its membership [T, L] (torso row 0)."""
    robot = get_robot(variant)
    rng = np.random.default_rng(seed)
    qpos = robot.model.qpos0 + rng.uniform(-0.2, 0.2, robot.model.nq)
    qvel = rng.uniform(-1, 1, robot.model.nv)
    tokens = ObservationBuilder(robot, 'modular')(qpos, qvel).reshape(-1, TOKEN_SIZE)
    membership = SynergyStructure(labels, centres).membership
    membership = np.vstack([np.zeros((1, membership.shape[1])), membership])
    return torch.tensor(tokens, dtype=torch.float32), torch.tensor(membership, dtype=torch.float32)


def batch(*robots: tuple[torch.Tensor, torch.Tensor], limbs: int, synergies: int
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad and stack morphologies to ``limbs`` tokens and ``synergies`` columns."""
    tokens = torch.zeros(len(robots), limbs, TOKEN_SIZE)
    membership = torch.zeros(len(robots), limbs, synergies)
    for i, (t, m) in enumerate(robots):
        tokens[i, :len(t)] = t
        membership[i, :m.shape[0], :m.shape[1]] = m
    return tokens, membership


WALKER = ('walker_7_main', (0, 0, 0, 1, 1, 1), (0, 3))
SHORT = ('walker_4_main', (0, 1, 1), (0, 1))


@pytest.fixture(scope='module', params=['static', 'state'])
def actor(request) -> SynergyActor:
    torch.manual_seed(0)
    return SynergyActor(d_model=16, feedforward=32, loadings=request.param).eval()


@pytest.fixture(scope='module')
def static_actor() -> SynergyActor:
    torch.manual_seed(0)
    return SynergyActor(d_model=16, feedforward=32).eval()


def test_static_loadings_span_at_most_l_directions(static_actor):
    actor = static_actor
    states = [morphology(*WALKER, seed=seed) for seed in range(40)]
    tokens, membership = batch(*states, limbs=7, synergies=2)
    actions, _ = actor(tokens, membership)
    assert actions.shape == (40, 6)
    # pre-tanh actions over many states all lie in the column space of T (K × L, L = 2)
    pre_tanh = torch.atanh(actions.double())
    singular = torch.linalg.svdvals(pre_tanh)
    assert singular[2] < 1e-5 * singular[0], singular
    assert torch.linalg.matrix_rank(actor.transform(tokens, membership)[0, 1:]) <= 2


def test_state_loadings_follow_the_state():
    torch.manual_seed(0)
    actor = SynergyActor(d_model=16, feedforward=32, loadings='state').eval()
    states = [morphology(*WALKER, seed=seed) for seed in range(40)]
    tokens, membership = batch(*states, limbs=7, synergies=2)
    transform = actor.transform(tokens, membership)
    # each state's T stays K x L, zero outside each synergy: low rank at every state ...
    assert all(torch.linalg.matrix_rank(t[1:]) <= 2 for t in transform)
    assert torch.all(transform[:, 1:4, 1] == 0) and torch.all(transform[:, 4:, 0] == 0)
    # ... but its directions move with the state, so the actions over states span more
    assert (transform[0] - transform[1]).abs().max() > 1e-3
    actions, _ = actor(tokens, membership)
    singular = torch.linalg.svdvals(torch.atanh(actions.double()))
    assert singular[2] > 1e-3 * singular[0], singular


def test_every_actuator_has_a_nonzero_loading(actor):
    for variant in (WALKER, SHORT):
        tokens, membership = batch(morphology(*variant), limbs=7, synergies=3)
        transform = actor.transform(tokens, membership)[0, 1:len(variant[1]) + 1]
        assert torch.all(transform.abs().sum(1) > 1e-3), transform


def test_padding_does_not_change_outputs(actor):
    robot = morphology(*SHORT)
    tight_action, tight_synergy = actor(*batch(robot, limbs=4, synergies=2))
    padded_action, padded_synergy = actor(*batch(robot, limbs=9, synergies=5))
    torch.testing.assert_close(padded_action[:, :3], tight_action, atol=1e-6, rtol=0)
    assert torch.all(padded_action[:, 3:] == 0)
    torch.testing.assert_close(padded_synergy[:, :2], tight_synergy, atol=1e-6, rtol=0)
    assert torch.all(padded_synergy[:, 2:] == 0)


def test_batch_order_does_not_change_outputs(actor):
    walker, short = morphology(*WALKER, seed=1), morphology(*SHORT, seed=2)
    forward, _ = actor(*batch(walker, short, limbs=7, synergies=2))
    backward, _ = actor(*batch(short, walker, limbs=7, synergies=2))
    torch.testing.assert_close(forward[0], backward[1], atol=1e-6, rtol=0)
    torch.testing.assert_close(forward[1], backward[0], atol=1e-6, rtol=0)


def test_attention_stays_inside_synergies():
    torch.manual_seed(0)
    masked = SynergyActor(d_model=16, feedforward=32, pool=False, mask=True).eval()
    tokens, membership = batch(morphology(*WALKER), limbs=7, synergies=2)
    changed = tokens.clone()
    changed[0, 6, :12] += 1.0  # move the left foot (synergy 1)
    before, _ = masked(tokens, membership)
    after, _ = masked(changed, membership)
    # one intra layer: right-leg limbs (synergy 0) see only themselves and the torso
    torch.testing.assert_close(before[0, :3], after[0, :3])
    assert not torch.allclose(before[0, 3:], after[0, 3:])


def test_baseline_and_critic_shapes_and_gradients():
    torch.manual_seed(0)
    tokens, membership = batch(morphology(*WALKER), morphology(*SHORT), limbs=7, synergies=2)
    baseline = SynergyActor(d_model=16, feedforward=32, pool=False, mask=False)
    actions, per_limb = baseline(tokens, membership)
    assert actions.shape == (2, 6) and per_limb.shape == (2, 7)
    assert torch.all(actions[1, 3:] == 0)
    critic = SynergyCritic(d_model=16, feedforward=32)
    actor = SynergyActor(d_model=16, feedforward=32)
    q = critic(tokens, membership, actor(tokens, membership)[0])
    assert q.shape == (2, 2) and torch.all(torch.isfinite(q))
    q[0].sum().backward()
    assert all(p.grad is not None for p in actor.decoder.parameters())
    assert actor.loading[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize('pool', [True, False])
def test_first_critic_alone_is_the_first_row_of_the_twin(pool):
    torch.manual_seed(0)
    tokens, membership = batch(morphology(*WALKER), morphology(*SHORT), limbs=7, synergies=2)
    critic = SynergyCritic(d_model=16, feedforward=32, pool=pool, mask=pool)
    actions = torch.rand(2, 6) * 2 - 1
    both = critic(tokens, membership, actions)
    first = critic(tokens, membership, actions, first_only=True)
    assert first.shape == (1, 2) and torch.equal(first, both[:1])
    assert not torch.equal(both[0], both[1])  # the rows differ: the wrong row would be seen
