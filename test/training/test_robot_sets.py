"""Training over a set of robots: the zero-shot robot is evaluated, never stepped or stored."""

from __future__ import annotations

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from synergy_control.training import load_checkpoint, train
from synergy_control.training.checkpoint import save_checkpoint

TRAIN, HELD_OUT = ['walker_2_main', 'walker_4_main'], 'walker_3_main'  # walker_3: zero-shot


@pytest.fixture(params=['td3', 'sac'])
def finished_run(request, tmp_path, run_to_end):
    """A short run over two walker variants, with the family's zero-shot walker_3 listed."""
    return run_to_end({
        'robots': [*TRAIN, HELD_OUT], 'algorithm': request.param, 'total_steps': 300,
        'start_steps': 50, 'batch_size': 32, 'buffer_size': 1000, 'keep_buffer': True,
        'policy': {'hidden_sizes': [16, 16]}, 'normalize_obs': True, 'eval_every': 150,
        'eval_episodes': 1, 'checkpoint_every': 150, 'log_every': 50, 'num_threads': 1},
        tmp_path)


def test_held_out_robot_is_never_stepped_stored_or_normalised(finished_run):
    trainer, rows = finished_run
    train_rows = [r for r in rows if r['updates']]
    assert train_rows and all(r[f'env_steps/{HELD_OUT}'] == '0' for r in train_rows)
    for r in train_rows:  # the two training robots share the steps evenly
        assert int(r['env_steps/walker_2_main']) == int(r['env_steps/walker_4_main'])
        assert sum(int(r[f'env_steps/{n}']) for n in TRAIN) == int(r['step'])
    assert trainer.buffer.keys() == TRAIN
    assert [len(trainer.buffer[n]) for n in TRAIN] == [150, 150]
    # every observation the normaliser saw came from a training robot's step or reset
    resets = trainer.episodes + len(TRAIN)
    assert int(trainer.agent.obs_norm.count) == trainer.env_steps + resets
    state = load_checkpoint(trainer.run_dir / 'checkpoints' / 'last.pt')
    assert state['counters']['robot_steps'] == {**dict.fromkeys(TRAIN, 150), HELD_OUT: 0}
    assert list(state['buffer']) == TRAIN


def test_every_robot_is_evaluated_with_train_and_zero_shot_means(finished_run):
    trainer, rows = finished_run
    evals = [r for r in rows if r['eval_mean']]
    assert [int(r['step']) for r in evals] == [150, 300]
    for r in evals:
        per_robot = {n: float(r[f'eval_mean/{n}']) for n in [*TRAIN, HELD_OUT]}
        assert float(r['eval_mean']) == pytest.approx(np.mean([per_robot[n] for n in TRAIN]))
        assert float(r['eval_zero_shot_mean']) == pytest.approx(per_robot[HELD_OUT])
        assert all(float(r[f'eval_length/{n}']) >= 1 for n in per_robot)
    episodes = {n for r in rows if r['episode'] for n in TRAIN if r[f'episode_return/{n}']}
    assert episodes == set(TRAIN) and f'episode_return/{HELD_OUT}' not in rows[0]
    events = EventAccumulator(str(trainer.run_dir / 'tb'))
    events.Reload()
    tags = set(events.Tags()['scalars'])
    assert {f'eval/eval_mean/{HELD_OUT}', 'eval/eval_zero_shot_mean',
            f'train/env_steps/{HELD_OUT}'} <= tags


def test_batches_are_balanced_padded_and_masked(finished_run):
    trainer, _ = finished_run
    batch = trainer.buffer.sample(32)
    assert batch.robot.tolist() == [0] * 16 + [1] * 16
    ctx = trainer.context
    assert batch.obs.shape == (32, ctx.obs_dim) and batch.action.shape == (32, ctx.act_dim)
    walker_2 = batch.robot == 0  # one actuator: the other action columns are padding
    assert (batch.action[walker_2, 1:] == 0).all() and (batch.act_mask[walker_2, 1:] == 0).all()
    assert (batch.obs[walker_2, ctx.obs_dims[0]:] == 0).all()


def test_resumed_set_run_continues_every_robot(finished_run):
    trainer, _ = finished_run
    last = trainer.run_dir / 'checkpoints' / 'last.pt'
    state = load_checkpoint(last)
    save_checkpoint(dict(state, config={**state['config'], 'total_steps': 400}), last)
    train(resume=str(trainer.run_dir), progress=False)
    resumed = load_checkpoint(last)
    assert resumed['counters']['robot_steps'] == {**dict.fromkeys(TRAIN, 200), HELD_OUT: 0}
    assert [len(resumed['buffer'][n]['storage']) for n in TRAIN] == [200, 200]


def test_a_set_run_exports_one_graph_per_named_robot(finished_run, tmp_path):
    from synergy_control.evaluation import evaluate
    from synergy_control.export import ExportError
    from synergy_control.export.trained import export_checkpoint

    trainer, _ = finished_run
    with pytest.raises(ExportError, match='name the robot'):
        export_checkpoint(trainer.run_dir, tmp_path / 'x.onnx')
    with pytest.raises(ExportError, match="'hopper_4' is not one of"):
        export_checkpoint(trainer.run_dir, tmp_path / 'x.onnx', robot='hopper_4')
    for robot in (TRAIN[0], HELD_OUT):  # the held-out walker too: zero-shot deployment
        card = export_checkpoint(trainer.run_dir, tmp_path / f'{robot}.onnx', robot=robot)
        assert card.robot == robot
        assert evaluate(tmp_path / f'{robot}.onnx', episodes=1)['robot'] == robot


@pytest.mark.parametrize('algorithm', ['td3', 'sac'])
def test_a_zero_shot_robot_wider_than_every_trained_one(algorithm, tmp_path, run_to_end):
    # Hopper++: hopper_5 (zero-shot) has the most limbs; the networks are sized for it, so
    # the replay rows are padded to its width although it never stores a transition
    trainer, rows = run_to_end({
        'robots': 'hopper++', 'algorithm': algorithm, 'total_steps': 120, 'start_steps': 20,
        'batch_size': 16, 'buffer_size': 200, 'policy': {'hidden_sizes': [16]},
        'eval_every': 120, 'eval_episodes': 1, 'checkpoint_every': 120, 'log_every': 40,
        'num_threads': 1}, tmp_path)
    assert trainer.context.obs_dim > max(trainer.context.obs_dims[:trainer.context.num_train])
    assert trainer.buffer.obs_dim == trainer.context.obs_dim
    assert trainer.agent.updates > 0 and 'hopper_5' not in trainer.buffer.keys()
    assert rows[-1]['eval_mean/hopper_5']
