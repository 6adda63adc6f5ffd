"""Export of a run over a set of robots as one graph (``--robot all``): SOLAR's serving path."""

from __future__ import annotations

import numpy as np
import pytest

from synergy_control.cli import main
from synergy_control.envs import make_env
from synergy_control.export import ExportError
from synergy_control.export.trained import export_checkpoint
from synergy_control.runtime import PolicyRuntime, read_card
from synergy_control.training.checkpoint import agent_from_checkpoint, load_checkpoint

TRAIN, ZERO_SHOT = ['walker_4_main', 'walker_2_main'], ['walker_3_main']
TINY_SOLAR = {'name': 'solar', 'd_model': 8, 'heads': 2, 'feedforward': 16, 'intra_layers': 1,
              'inter_layers': 1}


def set_run(policy: dict, **extra) -> dict:
    """A couple of hundred steps over two training walkers and a zero-shot one."""
    return {'robots': TRAIN + ZERO_SHOT, 'algorithm': 'td3', 'obs_mode': 'modular',
            'total_steps': 200, 'start_steps': 100, 'batch_size': 16, 'buffer_size': 1000,
            'policy': policy, 'normalize_obs': True, 'eval_every': 200, 'eval_episodes': 1,
            'checkpoint_every': 200, 'log_every': 100, 'num_threads': 1, **extra}


@pytest.fixture(scope='module', params=['static', 'state'])
def solar_run(tmp_path_factory, request):
    """A SOLAR run with each kind of loadings (the state's feed T from the transformer)."""
    from synergy_control.training import config_from_dict
    from synergy_control.training.runner import StopRequest, Trainer
    run_dir = tmp_path_factory.mktemp('solar') / 'run'
    config = set_run({**TINY_SOLAR, 'loadings': request.param},
                     hooks=[{'name': 'solar_recluster', 'every': 100, 'samples': 50}])
    trainer = Trainer(config_from_dict(config), run_dir, 'cpu', progress=False)
    try:
        trainer.run(StopRequest())
    finally:
        trainer.close()
    return run_dir


def test_one_graph_serves_every_robot_of_the_run(solar_run, tmp_path, capsys):
    out = tmp_path / 'walker_solar.onnx'
    assert main(['export', str(solar_run), '--out', str(out), '--robot', 'all']) == 0
    assert 'wrote' in capsys.readouterr().out
    card = read_card(out)
    assert card.robots == TRAIN + ZERO_SHOT and card.robot == TRAIN[0]
    assert card.training['robots'] == {'train': TRAIN, 'zero_shot': ZERO_SHOT}
    assert sorted(card.training['export_parity_by_robot']) == sorted(TRAIN + ZERO_SHOT)
    agent = agent_from_checkpoint(load_checkpoint(solar_run / 'checkpoints' / 'last.pt'))
    for index, robot in enumerate(TRAIN + ZERO_SHOT):
        structure = agent.builder.structure(index)  # the run's structure of this robot
        assert card.variant(robot).synergy['labels'] == list(structure.labels)
        runtime = PolicyRuntime(out, robot)
        env = make_env(robot, obs_mode='modular')
        obs, _ = env.reset(seed=4)
        output = runtime.act(env.data.qpos.copy(), env.data.qvel.copy())
        np.testing.assert_allclose(output.action, agent.act(obs, deterministic=True,
                                                            robot=robot), atol=1e-5)
        assert output.synergy.shape == (structure.count,)


def test_the_card_runs_the_default_robot_named_at_export(solar_run, tmp_path):
    out = tmp_path / 'walker_solar.onnx'
    assert main(['export', str(solar_run), '--out', str(out), '--robot', 'all',
                 '--default-robot', 'walker_2_main']) == 0
    card = read_card(out)
    assert card.robot == 'walker_2_main' and card.robots == ['walker_2_main', 'walker_4_main',
                                                             'walker_3_main']
    assert card.training['robots'] == {'train': TRAIN, 'zero_shot': ZERO_SHOT}
    assert PolicyRuntime(out).robot.name == 'walker_2_main'
    with pytest.raises(ExportError, match="'walker_3_main' is a zero-shot robot of run"):
        export_checkpoint(solar_run, tmp_path / 'x.onnx', robot='all',
                          default_robot='walker_3_main')
    with pytest.raises(ExportError, match="robot 'hopper_4' is not one of run"):
        export_checkpoint(solar_run, tmp_path / 'x.onnx', robot='all', default_robot='hopper_4')
    with pytest.raises(ExportError, match="a default robot .* all robots"):
        export_checkpoint(solar_run, tmp_path / 'x.onnx', robot='walker_4_main',
                          default_robot='walker_4_main')


def test_a_policy_made_per_robot_cannot_be_one_graph(tmp_path, run_to_end):
    run_dir = tmp_path / 'mlp'
    run_to_end(set_run({'name': 'mlp', 'hidden_sizes': [16]}), run_dir)
    with pytest.raises(ExportError, match="the policy module fails on robot 'walker_2_main'"):
        export_checkpoint(run_dir, tmp_path / 'mlp.onnx', robot='all')
    with pytest.raises(ExportError, match="name the robot to export for .*'all'"):
        export_checkpoint(run_dir, tmp_path / 'mlp.onnx')
    assert not (tmp_path / 'mlp.onnx').exists()
