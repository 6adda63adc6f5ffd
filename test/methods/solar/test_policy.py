"""The ``solar`` policy builder: one padded pass over Walker++, invariances, export per robot."""

import io
import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch

from synergy_control.methods.solar.policy import set_structure
from synergy_control.policies.registry import PolicyContext
from synergy_control.synergy import SynergyStructure
from synergy_control.training.checkpoint import make_agent
from synergy_control.training.config import ConfigError, config_from_dict


def walker_config(variant: str = 'solar', **overrides):
    return config_from_dict({'robots': 'walker++', 'obs_mode': 'modular', 'batch_size': 32,
                             'buffer_size': 100, 'normalize_obs': False, **overrides,
                             'policy': {'name': 'solar', 'variant': variant, 'd_model': 16,
                                        'feedforward': 32}})


def make(variant: str = 'solar', seed: int = 0, **overrides):
    config = walker_config(variant, **overrides)
    torch.manual_seed(seed)
    return make_agent(config, 'cpu', PolicyContext.build(*config.robot_split(), config.obs_mode))


@pytest.fixture(scope='module', params=['solar', 'amorpheus', 'amorpheus_masked'])
def agent(request):
    return make(request.param)


def states(agent, robot: str, n: int, seed: int = 0) -> torch.Tensor:
    """Modular observations of one robot at random states near its rest pose."""
    observer = agent.context.observers[agent.context.index(robot)]
    model, rng = observer.robot.model, np.random.default_rng(seed)
    return torch.tensor(np.array([observer(model.qpos0 + rng.uniform(-0.3, 0.3, model.nq),
                                           rng.uniform(-2, 2, model.nv)) for _ in range(n)]),
                        dtype=torch.float32)


def membership(spec: dict) -> np.ndarray:
    """The membership a spec's card feeds its graph (the card's ``synergy.membership``)."""
    return np.asarray(spec['synergy']['membership'], dtype=np.float32)


def padded(agent, *groups: tuple[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch of several robots' observations, zero-padded, with the robot index."""
    obs = torch.cat([torch.nn.functional.pad(o, (0, agent.obs_dim - o.shape[1]))
                     for _, o in groups])
    robot = torch.cat([torch.full((len(o),), agent.context.index(r)) for r, o in groups])
    return obs, robot


def test_one_padded_batch_equals_each_robot_alone_in_any_order(agent):
    names = agent.context.names
    groups = [(name, states(agent, name, 5, seed=i)) for i, name in enumerate(names)]
    obs, robot = padded(agent, *groups)
    action = agent.actor(obs, robot)
    reverse_obs, reverse_robot = padded(agent, *groups[::-1])
    reverse = agent.actor(reverse_obs, reverse_robot).flip(0)  # 5 rows per robot
    for i, (name, o) in enumerate(groups):
        k = agent.context.act_dims[agent.context.index(name)]
        rows = slice(5 * i, 5 * i + 5)
        alone = agent.actor(o, torch.tensor(agent.context.index(name)))  # unpadded tokens
        torch.testing.assert_close(action[rows, :k], alone, atol=1e-5, rtol=0)
        torch.testing.assert_close(reverse[rows].flip(0), action[rows], atol=1e-5, rtol=0)
        assert torch.all(action[rows, k:] == 0), f'{name}: padded action columns must be 0'
        q = agent.critic(obs[rows], action[rows], robot[rows])
        q_alone = agent.critic(o, alone, torch.tensor(agent.context.index(name)))
        torch.testing.assert_close(q, q_alone, atol=1e-5, rtol=0)


def test_actions_of_walker_7_span_at_most_l_directions():
    agent = make('solar')
    index = agent.context.index('walker_7_main')
    count = agent.builder.structure(index).count
    action = agent.actor(states(agent, 'walker_7_main', 64), torch.tensor(index)).double()
    singular = torch.linalg.svdvals(torch.atanh(action))
    assert singular[count] < 1e-5 * singular[0], (count, singular)


def test_every_actuator_of_every_walker_receives_an_action(agent):
    for name in agent.context.names:
        index = agent.context.index(name)
        action = agent.actor(states(agent, name, 16), torch.tensor(index))
        assert action.shape[1] == agent.context.act_dims[index]
        assert torch.all(action.abs().amax(0) > 1e-3), f'{name}: {action.abs().amax(0)}'


def test_a_new_structure_reaches_every_network_and_the_card():
    agent = make('solar')
    index = agent.context.index('walker_7_main')
    structure = SynergyStructure((0, 1, 1, 2, 2, 2), (0, 2, 4))
    obs = states(agent, 'walker_7_main', 4)
    before = agent.actor_target(obs, torch.tensor(index))
    set_structure(agent, index, structure)
    for net in (agent.actor, agent.critic, agent.actor_target, agent.critic_target):
        assert net.table.structure(index) == structure
    assert agent.builder.structure(index) is structure  # the object itself, never decoded
    assert not torch.allclose(agent.actor_target(obs, torch.tensor(index)), before)
    spec = agent.export_spec('walker_7_main')
    assert spec['synergy']['labels'] == [0, 1, 1, 2, 2, 2] and spec['synergy']['count'] == 3
    np.testing.assert_array_equal(membership(spec), structure.membership)
    assert spec['inputs'][1] == {'name': 'membership', 'shape': [6, 3],
                                 'source': 'synergy.membership'}


def test_one_traced_graph_serves_every_walker():
    agent = make('solar')
    example = agent.export_spec('walker_7_main')
    module = agent.policy('walker_7_main')
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(module, (states(agent, 'walker_7_main', 2),
                                   torch.as_tensor(membership(example))),
                          buffer, input_names=['obs', 'membership'],
                          output_names=['action', 'synergy'], opset_version=18, dynamo=False,
                          dynamic_axes={'obs': {0: 'batch', 1: 'N'},
                                        'membership': {0: 'K', 1: 'L'},
                                        'action': {0: 'batch', 1: 'K'},
                                        'synergy': {0: 'batch', 1: 'L'}})
    session = ort.InferenceSession(buffer.getvalue())
    for name in agent.context.names:
        spec = agent.export_spec(name)
        obs = states(agent, name, 3).numpy()
        action, synergy = session.run(None, {'obs': obs,
                                             'membership': membership(spec)})
        assert action.shape == (3, spec['outputs'][0]['shape'][1])
        assert synergy.shape == (3, spec['synergy']['count'])
        expected = agent.act(obs, deterministic=True, robot=name)
        np.testing.assert_allclose(action, expected, atol=1e-5)


def test_amorpheus_exports_its_action_only():
    spec = make('amorpheus').export_spec('walker_4_main')
    assert [o['name'] for o in spec['outputs']] == ['action']
    assert spec['synergy']['count'] == 1  # one group: the membership only marks the limbs


@pytest.mark.parametrize('overrides, key', [
    ({'algorithm': 'sac'}, "'algorithm'"),
    ({'obs_mode': 'flat'}, "'obs_mode'")])
def test_refused_settings_name_the_key(overrides, key):
    with pytest.raises(ConfigError, match=key):
        make(**overrides)


def test_heads_must_divide_the_width():
    with pytest.raises(ConfigError, match="'policy.d_model'"):
        config = config_from_dict({'robots': 'walker++', 'obs_mode': 'modular',
                                   'policy': {'name': 'solar', 'd_model': 15, 'heads': 2}})
        make_agent(config, 'cpu', PolicyContext.build(*config.robot_split(), 'modular'))


def test_the_normaliser_is_applied_per_token_for_every_robot():
    agent = make('solar', normalize_obs=True)
    for name in agent.context.names[:4]:  # training walkers feed the normaliser
        agent.observe(states(agent, name, 50, seed=7).numpy())
    for name in agent.context.names:
        spec, obs = agent.export_spec(name), states(agent, name, 3, seed=8)
        action, _ = agent.policy(name)(obs, torch.as_tensor(membership(spec)))
        np.testing.assert_allclose(action.detach().numpy(),
                                   agent.act(obs.numpy(), deterministic=True, robot=name),
                                   atol=1e-5)


def test_a_checkpoint_with_more_synergies_loads_into_a_fresh_agent():
    trained, fresh = make('solar', seed=1), make('solar', seed=2)
    index = trained.context.index('walker_7_main')
    set_structure(trained, index, SynergyStructure((0, 1, 1, 2, 2, 3), (0, 2, 4, 5)))
    fresh.load_state_dict(trained.state_dict())
    obs, robot = states(trained, 'walker_7_main', 4), torch.tensor(index)
    torch.testing.assert_close(fresh.actor_target(obs, robot), trained.actor_target(obs, robot))
    torch.testing.assert_close(fresh.critic(obs, fresh.actor(obs, robot), robot),
                               trained.critic(obs, trained.actor(obs, robot), robot))


def test_a_checkpoint_carries_the_structures_and_an_older_one_still_loads():
    """The structures travel as labels and centres; a state without them is read back once."""
    trained = make('solar', seed=1)
    index = trained.context.index('walker_6_main')
    structure = SynergyStructure((0, 1, 1, 0, 2), (0, 1, 4))
    set_structure(trained, index, structure)
    state = trained.state_dict()
    assert state['actor.table._extra_state']['structures'][index] == {
        'labels': [0, 1, 1, 0, 2], 'centres': [0, 1, 4]}
    for saved in (state, {k: v for k, v in state.items() if not k.endswith('_extra_state')}):
        fresh = make('solar', seed=2)
        fresh.load_state_dict(saved)
        for net in (fresh.actor, fresh.critic, fresh.actor_target, fresh.critic_target):
            assert net.table.structures == trained.actor.table.structures
            torch.testing.assert_close(net.table.membership, trained.actor.table.membership)
        assert fresh.actor.table.width == trained.actor.table.width
    with pytest.raises(ValueError, match='structures of 1 robots, this policy serves 6'):
        make('solar').actor.table.set_extra_state({'structures': [{'labels': [0],
                                                                   'centres': [0]}]})
