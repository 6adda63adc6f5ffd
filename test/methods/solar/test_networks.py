"""SOLAR networks: low rank, padding and batch-order invariance, every actuator can act.

The fused twin critic against the looped form it replaced (the same weights give the same Q
and gradients).
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from torch import nn

from synergy_control.methods.solar.networks import (SynergyActor, SynergyCritic, SynergyTrunk,
                                                    limb_mask)
from synergy_control.methods.solar.policy import tokens_of
from synergy_control.observation import ObservationBuilder, TOKEN_SIZE
from synergy_control.robots import get_robot
from synergy_control.synergy import SynergyStructure
from synergy_control.training.checkpoint import agent_from_checkpoint, load_checkpoint

MODELS = Path(__file__).resolve().parents[3] / 'models' / 'training'


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
    assert first.shape == (1, 2)
    # one member's batched matmuls, not both: equal within float32 rounding
    torch.testing.assert_close(first, both[:1], atol=1e-6, rtol=1e-6)
    assert not torch.equal(both[0], both[1])  # the rows differ: the wrong row would be seen


class LoopedCritic(nn.Module):
    """The critic as it was before fusing: one SynergyTrunk and head per critic, in a loop."""

    def __init__(self, pool: bool, d_model: int = 16, feedforward: int = 32,
                 layers: tuple[int, int] = (1, 2), n: int = 2):
        super().__init__()
        self.trunks = nn.ModuleList(SynergyTrunk(TOKEN_SIZE + 1, d_model, 2, feedforward,
                                                 *layers, pool=pool, mask=pool)
                                    for _ in range(n))
        self.heads = nn.ModuleList(nn.Sequential(nn.Linear(d_model, feedforward), nn.ReLU(),
                                                 nn.Linear(feedforward, 1)) for _ in range(n))

    def forward(self, tokens, membership, actions):
        torso = torch.zeros_like(actions[:, :1])
        x = torch.cat([tokens, torch.cat([torso, actions], 1).unsqueeze(-1)], -1)
        values = []
        for trunk, head in zip(self.trunks, self.heads):
            limb_features, synergy_features = trunk(x, membership)
            if synergy_features is None:
                weights, per_part = limb_mask(membership).float(), head(limb_features)
            else:
                weights, per_part = (membership.sum(1) > 0).float(), head(synergy_features)
            values.append((per_part.squeeze(-1) * weights).sum(1) / weights.sum(1))
        return torch.stack(values)


@pytest.mark.parametrize('pool', [True, False])
def test_fused_critic_equals_the_looped_one_on_its_weights(pool):
    """A looped critic's state dict loads into the fused one: same Q, same gradients."""
    torch.manual_seed(0)
    looped = LoopedCritic(pool)
    fused = SynergyCritic(d_model=16, feedforward=32, pool=pool, mask=pool)
    fused.load_state_dict(looped.state_dict())  # strict: every key converted, none left over
    tokens, membership = batch(morphology(*WALKER, seed=3), morphology(*SHORT, seed=4),
                               morphology(*WALKER, seed=5), limbs=7, synergies=2)
    actions = (torch.rand(3, 6) * 2 - 1).requires_grad_()
    expected = looped(tokens, membership, actions)
    assert not torch.allclose(expected[0], expected[1])  # critic 1 reading critic 0 is seen
    q = fused(tokens, membership, actions)
    torch.testing.assert_close(q, expected, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(fused(tokens, membership, actions, first_only=True),
                               expected[:1], atol=1e-6, rtol=1e-6)
    weights = torch.tensor([[1.0, -2.0, 0.5], [0.3, 1.5, -1.0]])  # both critics' grads count
    (expected * weights).sum().backward()
    action_grad, actions.grad = actions.grad, None
    (q * weights).sum().backward()
    torch.testing.assert_close(actions.grad, action_grad, atol=1e-6, rtol=1e-5)
    looped_grads = {name: p.grad for name, p in looped.named_parameters()}
    for name, olds in fused.legacy_names().items():
        fused_grad = dict(fused.named_parameters())[name].grad
        for member, old in enumerate(olds):
            grad = looped_grads[old]
            torch.testing.assert_close(fused_grad[member], grad.T if grad.dim() == 2
                                       else grad.unsqueeze(0), atol=1e-5, rtol=1e-4)


def test_a_looped_critic_state_missing_a_key_is_named():
    looped = LoopedCritic(True).state_dict()
    del looped['trunks.1.inter.0.norm2.bias']
    with pytest.raises(KeyError, match=r'trunks\.1\.inter\.0\.norm2\.bias'):
        SynergyCritic(d_model=16, feedforward=32).load_state_dict(looped)


@pytest.mark.parametrize('run, pool', [('walker_solar_cpu_0', True),
                                       ('walker_amorpheus_cpu_0', False)])
def test_a_committed_checkpoint_of_the_looped_critic_loads_and_trains_on(run, pool):
    """The runs' last.pt (looped critics) load: the looped critic's Q, Adam's moments kept."""
    state = load_checkpoint(MODELS / run / 'checkpoints' / 'last.pt')
    assert any('.net.trunks.1.' in key for key in state['agent'])  # the old layout indeed
    agent = agent_from_checkpoint(state)
    torch.manual_seed(0)
    obs, actions = torch.randn(8, agent.obs_dim), torch.rand(8, agent.act_dim) * 2 - 1
    robot = torch.arange(8) % len(agent.context.robots)
    layers = (1, 1) if pool else (2, 0)  # AMORPHEUS stacks intra + inter layers over limbs
    for name in ('critic', 'critic_target'):
        looped = LoopedCritic(pool, 32, 64, layers)
        prefix = f'{name}.net.'
        looped.load_state_dict({key[len(prefix):]: value for key, value in state['agent'].items()
                                if key.startswith(prefix)})
        critic = getattr(agent, name)
        tokens = tokens_of(obs)
        expected = looped(tokens, critic.table(robot, 8, tokens.shape[1]), actions)
        torch.testing.assert_close(critic(obs, actions, robot), expected, atol=1e-5, rtol=1e-5)
    saved = state['optimizers']['critic']
    legacy = {name: saved['state'][index]['exp_avg_sq'] for (name, _), index
              in zip(looped.named_parameters(), saved['param_groups'][0]['params'])}
    optimizer = agent.optimizers['critic']
    for name, parameter in agent.critic.net.named_parameters():
        for member, old in enumerate(agent.critic.net.legacy_names()[name]):
            moment = legacy[old].T if legacy[old].dim() == 2 else legacy[old].unsqueeze(0)
            assert torch.equal(optimizer.state[parameter]['exp_avg_sq'][member], moment)
    agent.critic(obs, actions, robot).sum().backward()
    optimizer.step()  # the converted moments fit the fused parameters
    assert all(torch.isfinite(p).all() for p in agent.critic.parameters())
