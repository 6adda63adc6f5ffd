"""Export a torch policy to ONNX with its card, and prove the two compute the same thing."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from synergy_control.card import METADATA_KEY, PolicyCard

PARITY_TOLERANCE = 1e-5


class ExportError(RuntimeError):
    """Export failed or the exported graph disagrees with the torch module."""


def export_policy(module: torch.nn.Module, card: PolicyCard, out_path: str | Path, *,
                  sample_observations: np.ndarray | None = None, seed: int = 0) -> float:
    """Write ``out_path`` (.onnx) and ``out_path`` with ``.card.yaml``; return the max |Δ|.

    ``module`` maps float32 observations [B, obs] to actions in [-1, 1] [B, act] (and, for
    synergy policies, a second output of synergy activations). Parity with ONNX Runtime is
    checked on ``sample_observations`` plus random ones and must be within 1e-5.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    module = module.to('cpu').eval()
    obs_size = int(card.observation['size'])
    example = torch.zeros(1, obs_size)
    buffer = io.BytesIO()
    with torch.no_grad():
        outputs = module(example)
    output_names = ['action', 'synergy'] if isinstance(outputs, tuple) else ['action']
    card.onnx = {'input': 'obs', 'outputs': output_names, 'opset': 18}
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated but exact here
        warnings.simplefilter('ignore', DeprecationWarning)
        torch.onnx.export(module, (example,), buffer, input_names=['obs'],
                          output_names=output_names, opset_version=18, dynamo=False,
                          dynamic_axes={'obs': {0: 'batch'},
                                        **{n: {0: 'batch'} for n in output_names}})
    model = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(model)
    del model.metadata_props[:]
    for key, value in _metadata(card).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = 'synergy_control'
    error = parity_error(module, model.SerializeToString(), obs_size, sample_observations, seed)
    if error > PARITY_TOLERANCE:
        raise ExportError(f'torch vs ONNX Runtime differ by {error:.3g} > {PARITY_TOLERANCE}')
    card.training = {**card.training, 'export_parity_max_abs_diff': float(error)}
    _set_card(model, card)
    tmp = out_path.with_suffix('.onnx.tmp')
    tmp.write_bytes(model.SerializeToString())
    tmp.replace(out_path)
    card.save(card_path(out_path))
    return error


def card_path(onnx_path: str | Path) -> Path:
    """Where the readable card of a model lives: ``NAME.card.yaml`` beside ``NAME.onnx``."""
    onnx_path = Path(onnx_path)
    return onnx_path.with_name(onnx_path.stem + '.card.yaml')


def _metadata(card: PolicyCard) -> dict[str, str]:
    """Flatten the card, plus keys that non-Python deployments read without a YAML parser."""
    return {METADATA_KEY: card.to_yaml(), 'robot': card.robot,
            'joint_names': ','.join(card.joint_names),
            'observation_mode': card.observation['mode'],
            'control_period': repr(card.control_period),
            'command_interface': card.action['command_interface']}


def _set_card(model: onnx.ModelProto, card: PolicyCard) -> None:
    for entry in model.metadata_props:
        if entry.key == METADATA_KEY:
            entry.value = card.to_yaml()


def parity_error(module: torch.nn.Module, onnx_bytes: bytes, obs_size: int,
                 sample_observations: np.ndarray | None, seed: int) -> float:
    """Max |torch − ONNX Runtime| over all outputs on sample and random observations."""
    rng = np.random.default_rng(seed)
    batches = [rng.normal(size=(64, obs_size)).astype(np.float32)]
    if sample_observations is not None and len(sample_observations):
        batches.append(np.asarray(sample_observations, dtype=np.float32).reshape(-1, obs_size))
    session = ort.InferenceSession(onnx_bytes, providers=['CPUExecutionProvider'])
    worst = 0.0
    for batch in batches:
        with torch.no_grad():
            expected = module(torch.from_numpy(batch))
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = session.run(None, {'obs': batch})
        for e, g in zip(expected, got):
            worst = max(worst, float(np.max(np.abs(e.numpy() - g))))
    return worst
