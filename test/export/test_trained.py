"""Export reads both config forms: the policy: section of new runs and older runs' hidden_sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from synergy_control.export.trained import export_checkpoint
from synergy_control.training import train

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize('source', ['fresh', 'models/training/hopper_td3_1'])
def test_export_records_the_policy_section(source, tmp_path):
    if source == 'fresh':
        run = train(str(REPO / 'config/train/smoke_td3.yaml'), run_dir=str(tmp_path / 'run'),
                    progress=False)
        hidden = [32, 32]
    else:
        run, hidden = REPO / source, [256, 256]
    card = export_checkpoint(run, tmp_path / 'policy.onnx')
    assert card.training['policy'] == {'name': 'mlp', 'hidden_sizes': hidden,
                                       'activation': 'relu'}
    assert card.training['export_parity_max_abs_diff'] < 1e-4


def test_a_checkpoint_trained_on_another_velocity_clip_is_refused(tmp_path):
    """A network trained on clipped velocities must not get a card that serves unclipped ones."""
    from synergy_control.export.onnx_export import ExportError
    from synergy_control.training.checkpoint import load_checkpoint, save_checkpoint
    run = train(str(REPO / 'config/train/smoke_td3.yaml'), run_dir=str(tmp_path / 'run'),
                progress=False)
    path = Path(run) / 'checkpoints' / 'last.pt'
    state = load_checkpoint(path)
    robot = next(iter(state['velocity_clips']))
    assert state['velocity_clips'][robot] == 10.0  # the walker's, recorded by training
    state.pop('format')
    state['velocity_clips'][robot] = None
    save_checkpoint(state, path)
    with pytest.raises(ExportError, match='velocities clipped to None; its observation now '
                                          'clips to 10.0'):
        export_checkpoint(path, tmp_path / 'policy.onnx')


def test_a_humanoid2d_checkpoint_carries_its_lateral_position_to_the_card(tmp_path):
    """Humanoid2D++ tokens drop the lateral position: the checkpoint records it, the card says
    it and the runtime builds it; a checkpoint from before (no record: trained on y) is
    refused, and a card without the key (older) is served tokens with y."""
    import numpy as np
    import onnx
    import yaml
    from synergy_control.card import METADATA_KEY
    from synergy_control.export.onnx_export import ExportError
    from synergy_control.runtime import PolicyRuntime
    from synergy_control.training import config_from_dict
    from synergy_control.training.checkpoint import load_checkpoint, save_checkpoint
    config = config_from_dict({
        'robot': 'humanoid_2d_7_right_leg', 'algorithm': 'td3', 'obs_mode': 'modular',
        'total_steps': 100, 'start_steps': 50, 'batch_size': 16, 'buffer_size': 500,
        'policy': {'name': 'solar', 'd_model': 8, 'heads': 2, 'feedforward': 16,
                   'intra_layers': 1, 'inter_layers': 1},
        'eval_every': 100, 'eval_episodes': 1, 'checkpoint_every': 100, 'num_threads': 1})
    run = train(config=config, run_dir=str(tmp_path / 'run'), progress=False)
    path = Path(run) / 'checkpoints' / 'last.pt'
    state = load_checkpoint(path)
    assert state['lateral_positions'] == {'humanoid_2d_7_right_leg': False}
    out = tmp_path / 'policy.onnx'
    card = export_checkpoint(path, out)
    assert card.observation['lateral_position'] is False
    runtime = PolicyRuntime(out)
    qpos, qvel = runtime.robot.model.qpos0, np.zeros(runtime.robot.model.nv)
    assert not runtime.observe(qpos, qvel).reshape(-1, 19)[:, 1].any()
    model = onnx.load(out)  # the same policy, its card from before the key existed
    (entry,) = [e for e in model.metadata_props if e.key == METADATA_KEY]
    older = yaml.safe_load(entry.value)
    del older['observation']['lateral_position']
    entry.value = yaml.safe_dump(older, sort_keys=False)
    onnx.save(model, tmp_path / 'older.onnx')
    assert PolicyRuntime(tmp_path / 'older.onnx').observe(qpos, qvel).reshape(-1, 19)[:, 1].any()
    state.pop('format')
    state.pop('lateral_positions')
    save_checkpoint(state, path)
    with pytest.raises(ExportError, match="humanoid_2d_7_right_leg's limb tokens with the "
                                          'lateral position; its observation now drops it'):
        export_checkpoint(path, tmp_path / 'refused.onnx')
