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
