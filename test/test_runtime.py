"""Runtime: loads policies, refuses bad ones clearly, produces safe commands."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import yaml

from synergy_control.actions import ActionScaling
from synergy_control.card import METADATA_KEY, PolicyCard
from synergy_control.envs import make_env
from synergy_control.evaluation import evaluate
from synergy_control.export import export_policy, export_untrained
from synergy_control.export.onnx_export import PARITY_TOLERANCE
from synergy_control.methods.solar.untrained import export_untrained_set
from synergy_control.robots import get_robot
from synergy_control.runtime import NonFiniteError, PolicyLoadError, PolicyRuntime
from synergy_control.state import with_unit_root_quaternion
from synergy_control.synergy import SynergyStructure


@pytest.fixture(scope='module')
def walker_policy(tmp_path_factory):
    path = tmp_path_factory.mktemp('policies') / 'walker.onnx'
    export_untrained('walker_7_main', path)
    return path


def test_commands_are_finite_and_within_limits(walker_policy):
    runtime = PolicyRuntime(walker_policy)
    env = make_env('walker_7_main')
    env.reset(seed=0)
    out = runtime.act(env.data.qpos, env.data.qvel)
    assert out.commands.shape == (6,) and np.all(np.abs(out.commands) <= 100.0)
    assert out.synergy.size == 0


class FullReverse(torch.nn.Module):
    """A policy that always asks for action -1 on every actuator (a saturated tanh)."""

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return obs[:, :1] * 0.0 - torch.ones(1, 6)


def test_the_runtime_clips_rounding_onto_the_card_limits(tmp_path):
    """The one clip of a command (the node publishes it as it is) catches rounding.

    With a control range whose ends are not exact in binary ([0.1, 0.7] here), the affine
    map of action -1 lands 1 ulp below the lowest command; only the runtime's clip puts it
    back on the card's limit.
    """
    path = tmp_path / 'reverse.onnx'
    card = PolicyCard.for_robot(get_robot('walker_7_main'), name='reverse', method='test',
                                obs_mode='flat')
    export_policy(FullReverse(), card, path)
    runtime = PolicyRuntime(path)
    runtime.scaling = ActionScaling(np.full(6, 0.1), np.full(6, 0.7), np.full(6, 3.0))
    runtime.command_low, runtime.command_high = runtime.scaling.command_limits
    assert np.any(runtime.scaling.action_to_command(-np.ones(6)) < runtime.command_low)
    out = runtime.act(runtime.robot.model.qpos0, np.zeros(runtime.robot.model.nv))
    np.testing.assert_array_equal(out.action, -np.ones(6))
    assert np.all(out.commands >= runtime.command_low)
    assert np.all(out.commands <= runtime.command_high)


def test_non_finite_state_is_refused(walker_policy):
    runtime = PolicyRuntime(walker_policy)
    env = make_env('walker_7_main')
    env.reset(seed=0)
    qvel = env.data.qvel.copy()
    qvel[4] = np.inf
    with pytest.raises(NonFiniteError):
        runtime.act(env.data.qpos, qvel)


def test_corrupt_file_is_a_clear_error(tmp_path, walker_policy):
    broken = tmp_path / 'broken.onnx'
    broken.write_bytes(walker_policy.read_bytes()[:300])
    with pytest.raises(PolicyLoadError, match='not a valid ONNX model'):
        PolicyRuntime(broken)
    with pytest.raises(PolicyLoadError, match='does not exist'):
        PolicyRuntime(tmp_path / 'missing.onnx')


def test_policy_for_another_robot_names_the_joints(walker_policy):
    with pytest.raises(PolicyLoadError, match='foot_left_joint'):
        PolicyRuntime(walker_policy, 'walker_6_main')


def test_evaluate_reports_returns_per_episode(walker_policy):
    result = evaluate(walker_policy, episodes=2, seed=5)
    assert result['episodes'] == 2 and len(result['results']) == 2
    assert result['results'][0]['seed'] == 5
    again = evaluate(walker_policy, episodes=2, seed=5)
    assert again['mean_return'] == result['mean_return']


def _rewrite_card(path, card):
    """Store an edited card in an exported model, as a tampered or stale file would have."""
    _rewrite_card_text(path, card.to_yaml())


def _rewrite_card_text(path, text):
    model = onnx.load(path)
    for entry in model.metadata_props:
        if entry.key == METADATA_KEY:
            entry.value = text
    onnx.save(model, path)


def test_card_whose_action_scaling_disagrees_with_the_robot_is_refused(tmp_path):
    path = tmp_path / 'walker.onnx'
    card = export_untrained('walker_7_main', path)
    card.action['gear'] = [1000.0] * 6
    card.action['command_high'] = [1000.0] * 6
    _rewrite_card(path, card)
    assert PolicyCard.from_yaml(card.to_yaml()).action['gear'][0] == 1000.0
    with pytest.raises(PolicyLoadError, match='gear'):
        PolicyRuntime(path)


def test_malformed_card_field_is_a_load_error(tmp_path):
    path = tmp_path / 'walker.onnx'
    card = export_untrained('walker_7_main', path)
    card.observation['mode'] = 'pixels'
    _rewrite_card(path, card)
    with pytest.raises(PolicyLoadError, match='pixels'):
        PolicyRuntime(path)


@pytest.mark.parametrize('key, value, message', [
    ('action', [1, 2], "key 'action': expected a mapping"),
    ('synergy', {'method': 'm', 'count': 'two', 'labels': [0] * 6},
     "key 'synergy.count': expected an integer"),
    ('control_period', 'fast', "key 'control_period': expected a positive finite number"),
])
def test_malformed_card_is_a_load_error_naming_key_and_file(tmp_path, walker_policy, key, value,
                                                            message):
    path = tmp_path / 'walker.onnx'
    path.write_bytes(walker_policy.read_bytes())
    data = yaml.safe_load(PolicyRuntime(path).card.to_yaml())
    data[key] = value
    _rewrite_card_text(path, yaml.safe_dump(data))
    with pytest.raises(PolicyLoadError, match=message) as error:
        PolicyRuntime(path)
    assert str(path) in str(error.value)


def test_card_for_an_unknown_robot_is_a_load_error(tmp_path, walker_policy):
    path = tmp_path / 'walker.onnx'
    path.write_bytes(walker_policy.read_bytes())
    card = PolicyRuntime(path).card
    card.robot = 'walker_99'
    _rewrite_card(path, card)
    with pytest.raises(PolicyLoadError, match='walker_99'):
        PolicyRuntime(path)


def test_shipped_v1_policies_load():
    for name, robot in (('td3/walker_td3', 'walker_7_main'), ('hopper_td3', 'hopper_4')):
        runtime = PolicyRuntime(f'models/{name}.onnx')
        assert runtime.robot.name == robot and runtime.synergy_count == 0
        assert runtime.card.input_of('observation')['name'] == 'obs'


# --------------------------------------------------------------------- several named inputs
MEMBERSHIP = [[1, 0], [1, 0], [1, 0], [0, 1], [0, 1], [0, 1]]
TASKS = {'run': [1.0, 0.0], 'hop': [0.6, 0.8]}


class TaskSynergyPolicy(torch.nn.Module):
    """Synergy activations z = tanh(W obs + U task); actions a = tanh(membership z)."""

    def __init__(self, order: tuple[str, ...]):
        super().__init__()
        self.order = order
        self.encoder = torch.nn.Linear(17, 2)
        self.task = torch.nn.Linear(2, 2, bias=False)

    def forward(self, *inputs):
        named = dict(zip(self.order, inputs))
        z = torch.tanh(self.encoder(named['obs']) + self.task(named['task']))
        return torch.tanh(z @ named['membership'].T), z


INPUTS = {'obs': {'name': 'obs', 'shape': ['batch', 17], 'source': 'observation'},
          'task': {'name': 'task', 'shape': ['batch', 2], 'source': 'task_embedding'},
          'membership': {'name': 'membership', 'shape': [6, 2], 'source': 'synergy.membership'}}


def export_task_synergy(path, order=('obs', 'task', 'membership')):
    """Export a TaskSynergyPolicy (same weights for any input order) with a v2 card."""
    torch.manual_seed(0)
    module = TaskSynergyPolicy(order)
    card = PolicyCard.for_robot(
        get_robot('walker_7_main'), name='task_synergy', method='test', obs_mode='flat',
        synergy={'method': 'test', 'count': 2, 'labels': [0, 0, 0, 1, 1, 1],
                 'centres': [0, 3], 'membership': MEMBERSHIP},
        tasks={'dim': 2, 'default': 'run', 'embeddings': TASKS},
        onnx={'opset': 18, 'inputs': [INPUTS[n] for n in order],
              'outputs': [{'name': 'action', 'shape': ['batch', 6], 'role': 'action'},
                          {'name': 'synergy', 'shape': ['batch', 2],
                           'role': 'synergy_activations'}]})
    export_policy(module, card, path)
    return module


def reference(module, obs, task, membership=MEMBERSHIP):
    """The policy in numpy, from its weights."""
    w, b = module.encoder.weight.detach().numpy(), module.encoder.bias.detach().numpy()
    z = np.tanh(w @ obs + b + module.task.weight.detach().numpy() @ np.asarray(task))
    return np.tanh(np.asarray(membership) @ z), z


@pytest.fixture
def state():
    env = make_env('walker_7_main')
    env.reset(seed=3)
    return env.data.qpos.copy(), env.data.qvel.copy(), env.observation()


def test_inputs_are_fed_by_name_in_any_graph_order(tmp_path, state):
    qpos, qvel, obs = state
    outputs = []
    for order in (('obs', 'task', 'membership'), ('membership', 'task', 'obs')):
        path = tmp_path / f'{order[0]}.onnx'
        module = export_task_synergy(path, order)
        runtime = PolicyRuntime(path)
        assert [i.name for i in runtime.session.get_inputs()] == list(order)
        out = runtime.act(qpos, qvel)
        action, z = reference(module, obs, TASKS['run'])
        np.testing.assert_allclose(out.action, action, atol=1e-5)
        np.testing.assert_allclose(out.synergy, z, atol=1e-5)
        assert runtime.synergy_count == 2
        outputs.append(out.action)
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_task_is_set_by_name_or_vector(tmp_path, state):
    qpos, qvel, obs = state
    path = tmp_path / 'task.onnx'
    module = export_task_synergy(path)
    runtime = PolicyRuntime(path)
    assert runtime.task_names == ['hop', 'run']
    runtime.set_task('hop')
    np.testing.assert_allclose(runtime.act(qpos, qvel).action,
                               reference(module, obs, TASKS['hop'])[0], atol=1e-5)
    runtime.set_task(np.array([0.0, 1.0]))
    np.testing.assert_allclose(runtime.act(qpos, qvel).action,
                               reference(module, obs, [0.0, 1.0])[0], atol=1e-5)
    with pytest.raises(ValueError, match="unknown task 'swim'"):
        runtime.set_task('swim')
    for bad, match in [([np.nan, 1.0], 'non-finite'), ([0.0, 0.0], 'zero'),
                       ([1.0, 0.0, 0.0], '2 values'), ('hop run 2', 'beta')]:
        with pytest.raises(ValueError, match=match):
            runtime.set_task(bad)
        np.testing.assert_allclose(runtime.act(qpos, qvel).action,  # the task stays
                                   reference(module, obs, [0.0, 1.0])[0], atol=1e-5)
    assert runtime.set_task(np.array([0.0, 3.0])) == '[0, 1]'  # onto the unit sphere
    np.testing.assert_allclose(runtime.act(qpos, qvel).action,
                               reference(module, obs, [0.0, 1.0])[0], atol=1e-5)
    blended = runtime.set_task('hop run 0.5')
    expected = np.add(TASKS['hop'], TASKS['run'])
    np.testing.assert_allclose(runtime.act(qpos, qvel).action, reference(
        module, obs, (expected / np.linalg.norm(expected)).tolist())[0], atol=1e-5)
    assert blended == runtime.task == 'hop run 0.5'
    with pytest.raises(ValueError, match='takes no task'):
        PolicyRuntime('models/td3/walker_td3.onnx').set_task('run')


def test_constant_inputs_are_read_from_the_card(tmp_path, state):
    qpos, qvel, obs = state
    path = tmp_path / 'task.onnx'
    module = export_task_synergy(path)
    card = PolicyRuntime(path).card
    labels = [1, 0, 1, 0, 1, 0]
    card.synergy.update(labels=labels, centres=[1, 0],
                        membership=np.eye(2)[labels].astype(int).tolist())
    _rewrite_card(path, card)
    np.testing.assert_allclose(PolicyRuntime(path).act(qpos, qvel).action,
                               reference(module, obs, TASKS['run'], np.eye(2)[labels])[0],
                               atol=1e-5)


def test_graph_whose_signature_disagrees_with_its_card_is_refused(tmp_path):
    path = tmp_path / 'task.onnx'
    export_task_synergy(path)
    card = PolicyRuntime(path).card
    renamed = PolicyCard.from_yaml(card.to_yaml())
    renamed.onnx['inputs'][1]['name'] = 'goal'
    _rewrite_card(path, renamed)
    with pytest.raises(PolicyLoadError, match=r"inputs \['obs', 'task', 'membership'\] != card "
                                              r"\['obs', 'goal', 'membership'\]"):
        PolicyRuntime(path)
    resized = PolicyCard.from_yaml(card.to_yaml())
    resized.synergy.update(count=3, labels=[0, 1, 2, 0, 1, 2], centres=[0, 1, 2],
                           membership=np.eye(3)[[0, 1, 2, 0, 1, 2]].astype(int).tolist())
    resized.onnx['inputs'][2]['shape'] = [6, 3]
    resized.onnx['outputs'][1]['shape'] = ['batch', 3]
    _rewrite_card(path, resized)
    with pytest.raises(PolicyLoadError, match=r"input 'membership' has shape \[6, 2\], card "
                                              r"\[6, 3\].*output 'synergy' has shape"):
        PolicyRuntime(path)


def test_the_runtime_refuses_a_structure_its_one_parser_refuses(tmp_path, walker_policy):
    """The card the runtime loads is parsed by from_card; a card without centres is refused."""
    path = tmp_path / 'task.onnx'
    export_task_synergy(path)
    runtime = PolicyRuntime(path)
    assert runtime.card.structure() == SynergyStructure((0, 0, 0, 1, 1, 1), (0, 3))
    assert PolicyRuntime(walker_policy).card.structure() is None  # no synergy section
    card = PolicyCard.from_yaml(runtime.card.to_yaml())
    del card.synergy['centres']
    _rewrite_card(path, card)
    with pytest.raises(PolicyLoadError, match=r"key 'synergy.centres' is missing"):
        PolicyRuntime(path)


def test_plain_graph_under_a_two_output_card_is_refused(tmp_path, walker_policy):
    path = tmp_path / 'walker.onnx'
    path.write_bytes(walker_policy.read_bytes())
    card = PolicyRuntime(path).card
    card.synergy = {'method': 'test', 'count': 2, 'labels': [0, 0, 0, 1, 1, 1],
                    'centres': [0, 3]}
    card.onnx['outputs'].append({'name': 'synergy', 'shape': ['batch', 2],
                                 'role': 'synergy_activations'})
    _rewrite_card(path, card)
    with pytest.raises(PolicyLoadError, match=r"outputs \['action'\] != card"):
        PolicyRuntime(path)


def test_graph_with_a_double_input_is_refused_at_load(tmp_path, walker_policy):
    """A hand-built graph (obs in float64) under a valid card: refused before any tick."""
    from onnx import TensorProto, helper
    card = PolicyRuntime(walker_policy).card
    graph = helper.make_graph(
        [helper.make_node('Cast', ['obs'], ['obs32'], to=TensorProto.FLOAT),
         helper.make_node('MatMul', ['obs32', 'weight'], ['linear']),
         helper.make_node('Tanh', ['linear'], ['action'])], 'double_input',
        [helper.make_tensor_value_info('obs', TensorProto.DOUBLE, ['batch', 17])],
        [helper.make_tensor_value_info('action', TensorProto.FLOAT, ['batch', 6])],
        [helper.make_tensor('weight', TensorProto.FLOAT, [17, 6], [0.01] * 102)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 18)])
    model.ir_version = 9
    helper.set_model_props(model, {METADATA_KEY: card.to_yaml()})
    path = tmp_path / 'double.onnx'
    onnx.save(model, path)
    with pytest.raises(PolicyLoadError, match=r'must be tensor\(float\): obs \(tensor\(double'):
        PolicyRuntime(path)


# ---------------------------------------------------------------------- one policy, many robots
SET = ['walker_4_main', 'walker_7_main', 'walker_3_main']


@pytest.fixture(scope='module')
def set_policy(tmp_path_factory):
    path = tmp_path_factory.mktemp('set') / 'solar.onnx'
    export_untrained_set(SET, path)
    return path


@pytest.mark.parametrize('robot', SET)
def test_one_policy_runs_each_robot_with_that_robots_synergies(set_policy, robot):
    runtime = PolicyRuntime(set_policy, robot)
    assert (runtime.robot.name, runtime.card.robot, runtime.robots) == (robot, robot, SET)
    env = make_env(robot, obs_mode='modular')
    env.reset(seed=3)
    output = runtime.act(env.data.qpos.copy(), env.data.qvel.copy())
    membership = np.asarray(runtime.card.synergy['membership'], dtype=np.float32)
    assert membership.shape == (env.robot.model.nu, runtime.synergy_count)
    session = ort.InferenceSession(str(set_policy))
    obs = env.observation().astype(np.float32)[None]
    action, synergy = session.run(None, {'obs': obs, 'membership': membership})
    np.testing.assert_allclose(output.action, action[0], atol=1e-6)
    np.testing.assert_allclose(output.synergy, synergy[0], atol=1e-6)
    # the runtime's own session has this robot's sizes fixed (ORT folds the shape arithmetic)
    fixed = [[1, obs.shape[1]], list(membership.shape)]
    assert [i.shape for i in runtime.session.get_inputs()] == fixed
    # the structure matters: another clustering of the same actuators gives another action
    other = np.eye(len(membership), dtype=np.float32)
    other = other if other.shape != membership.shape else np.ones_like(membership[:, :1])
    assert not np.allclose(session.run(None, {'obs': obs, 'membership': other})[0], action)


def test_default_robot_is_the_cards_first(set_policy):
    assert PolicyRuntime(set_policy).robot.name == SET[0]


def test_robot_the_policy_does_not_serve_is_a_load_error_naming_those_it_serves(set_policy):
    with pytest.raises(PolicyLoadError, match=r"serves robots \['walker_4_main', "
                                              r"'walker_7_main', 'walker_3_main'\], not "
                                              r"'walker_6_main'"):
        PolicyRuntime(set_policy, 'walker_6_main')


# ------------------------------------------------------------------------ many states, one call
def visited_states(robot: str, count: int, obs_mode: str = 'flat', seed: int = 0):
    """States [count, ...] an env of ``robot`` visits under random actions (qpos, qvel, ctrl)."""
    env = make_env(robot, obs_mode=obs_mode)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    states = []
    for _ in range(count):
        states.append((env.data.qpos.copy(), env.data.qvel.copy(), env.data.ctrl.copy()))
        if env.step(rng.uniform(-1.0, 1.0, env.action_space.shape))[2]:
            env.reset()
    return env.robot, [np.array(column) for column in zip(*states)]


@pytest.mark.parametrize('policy, robot, obs_mode', [
    ('walker', 'walker_7_main', 'flat'),
    ('set', 'walker_4_main', 'modular'),
    ('models/humanoid_sar.onnx', 'humanoid', 'flat'),  # free root, ctrl-dependent extras
    ('models/half_cheetah_vel_ear.onnx', 'half_cheetah', 'flat'),  # a task input per state
])
def test_a_batch_is_each_states_own_step(walker_policy, set_policy, policy, robot, obs_mode):
    path = {'walker': walker_policy, 'set': set_policy}.get(policy, policy)
    single = PolicyRuntime(path, robot)
    batched = PolicyRuntime(path, robot, batched=True)
    model, (qpos, qvel, ctrl) = visited_states(robot, 9, obs_mode)
    if single.task is not None:
        for runtime in (single, batched):
            runtime.set_task(runtime.task_names[-1])
    output = batched.act_batch(qpos, qvel, ctrl)
    assert output.action.shape == output.commands.shape == (9, model.model.nu)
    for i in range(9):
        # the reference: the one-state path on the observation of the unit-quaternion state
        unit = with_unit_root_quaternion(model, qpos[i])
        expected = single.act_on_observation(single.observe(unit, qvel[i], ctrl[i]))
        np.testing.assert_array_equal(single.act(qpos[i], qvel[i], ctrl[i]).action,
                                      expected.action)
        if policy == 'set':  # a SOLAR graph with a free batch runs other kernels: ~1e-6 apart
            for got, want in ((output.action, expected.action),
                              (output.synergy, expected.synergy)):
                np.testing.assert_allclose(got[i], want, rtol=0, atol=PARITY_TOLERANCE)
            continue
        # an MLP's rows are dot products summed in one order whatever the batch: bit-equal
        for got, want in ((output.action, expected.action), (output.commands, expected.commands),
                          (output.synergy, expected.synergy)):
            np.testing.assert_array_equal(got[i], want)
    assert np.all(output.commands >= single.command_low)
    assert np.all(output.commands <= single.command_high)
    # the batch size is free, the robot's sizes stay fixed; one state a call fixes it to 1
    per_state = [card_input['name'] for card_input in single.card.onnx['inputs']
                 if card_input['source'] in ('observation', 'task_embedding')]
    for runtime, batch in ((batched, 'batch'), (single, 1)):
        shapes = {i.name: i.shape for i in runtime.session.get_inputs()}
        assert all(isinstance(size, int) for shape in shapes.values() for size in shape[1:])
        assert [shapes[name][0] for name in per_state] == [batch] * len(per_state)


def test_a_batch_refuses_what_one_state_refuses(walker_policy):
    runtime = PolicyRuntime(walker_policy, batched=True)
    _, (qpos, qvel, ctrl) = visited_states('walker_7_main', 5)
    diverged = qvel.copy()
    diverged[3, 4] = np.nan
    with pytest.raises(NonFiniteError, match=r'state 3 of 5 has non-finite values in qvel'):
        runtime.act_batch(qpos, diverged)
    with pytest.raises(ValueError, match=r'qpos of walker_7_main must be \[5, 9\].*\[5, 8\]'):
        runtime.act_batch(qpos[:, 1:], qvel)
    with pytest.raises(ValueError, match=r'ctrl of walker_7_main must be \[5, 6\].*\[4, 6\]'):
        runtime.act_batch(qpos, qvel, ctrl[1:])
    with pytest.raises(ValueError, match=r'one state a call \(batched=False\), got 5'):
        PolicyRuntime(walker_policy).act_batch(qpos, qvel)


def save_hand_built_graph(path, card, nodes, batch, initializers):
    """Save a graph of ``nodes`` from obs [batch, 17] to action [batch, 6] under ``card``."""
    from onnx import TensorProto, helper
    graph = helper.make_graph(
        nodes, path.stem, [helper.make_tensor_value_info('obs', TensorProto.FLOAT, [batch, 17])],
        [helper.make_tensor_value_info('action', TensorProto.FLOAT, [batch, 6])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 18)])
    model.ir_version = 9
    helper.set_model_props(model, {METADATA_KEY: card.to_yaml()})
    onnx.save(model, path)


def test_a_graph_that_fixes_its_batch_is_refused_a_batch(tmp_path, walker_policy):
    """A graph of one sample (batch 1) under a card that says 'batch': a batch is refused."""
    from onnx import TensorProto, helper
    path = tmp_path / 'one_sample.onnx'
    save_hand_built_graph(path, PolicyRuntime(walker_policy).card,
                          [helper.make_node('MatMul', ['obs', 'weight'], ['linear']),
                           helper.make_node('Tanh', ['linear'], ['action'])], 1,
                          [helper.make_tensor('weight', TensorProto.FLOAT, [17, 6], [0.01] * 102)])
    _, (qpos, qvel, _) = visited_states('walker_7_main', 1)
    assert PolicyRuntime(path).act(qpos[0], qvel[0]).action.shape == (6,)
    with pytest.raises(PolicyLoadError, match=r"cannot run a batch: its graph fixes the leading "
                                              r"\(batch\) size of obs \[1, 17\]"):
        PolicyRuntime(path, batched=True)


def test_a_non_finite_output_of_one_state_refuses_the_batch_naming_it(tmp_path, walker_policy):
    """action = sqrt(obs[:, :6]): NaN for the state whose thigh angle (obs[2]) is negative."""
    from onnx import TensorProto, helper
    path = tmp_path / 'sqrt.onnx'
    save_hand_built_graph(path, PolicyRuntime(walker_policy).card,
                          [helper.make_node('Slice', ['obs', 'start', 'end', 'axis'], ['head']),
                           helper.make_node('Sqrt', ['head'], ['action'])], 'batch',
                          [helper.make_tensor(name, TensorProto.INT64, [1], [value])
                           for name, value in (('start', 0), ('end', 6), ('axis', 1))])
    runtime = PolicyRuntime(path, batched=True)
    qpos = np.tile(runtime.robot.model.qpos0, (4, 1))
    qpos[:, 1:7] = 0.1
    qvel = np.zeros((4, runtime.robot.model.nv))
    np.testing.assert_allclose(runtime.act_batch(qpos, qvel).action, np.sqrt(0.1), rtol=1e-6)
    qpos[2, 3] = -0.1
    with pytest.raises(NonFiniteError, match=r'policy output of state 2 \(of 4\) \[.*nan'):
        runtime.act_batch(qpos, qvel)
    with pytest.raises(NonFiniteError, match=r'policy output \[.*nan'):
        runtime.act(qpos[2], qvel[2])
