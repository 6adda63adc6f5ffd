"""Export a torch policy to ONNX with its card, and prove the two compute the same thing."""

from __future__ import annotations

import copy
import io
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from synergy_control.card import METADATA_KEY, SYNERGY_SOURCE, CardError, PolicyCard

#: Largest |torch − ONNX Runtime| per output, relative to max(1, |output|). float32 kernels
#: sum in different orders: the SOLAR transformer trained by PPO over Walker++ (one graph,
#: dynamic sizes) measured 1.05e-5; 2e-5 of an action range of 2 is far below any actuator's
#: resolution, while a wrong weight or op moves actions by orders of magnitude more.
PARITY_TOLERANCE = 2e-5
#: A sample past :data:`PARITY_TOLERANCE` still passes when ONNX Runtime is at most this many
#: times as far from the float64 evaluation of the same module as float32 torch is: on an
#: ill-conditioned input (SOLAR attention logits of ~8e3 on random observations clipped to
#: ±10 by the normaliser) float32 torch itself misses the exact result by more than the
#: tolerance, so their difference measures float32, not the graph. A wrong op misses the exact
#: result by orders of magnitude more than float32 torch does.
CONDITIONING_FACTOR = 2.0
#: float32 torch's distance from the float64 result is taken as the largest over the input and
#: this many copies of it moved by one float32 ulp in random directions: one evaluation's
#: rounding error is itself a draw: on a random observation of Humanoid2D++ SOLAR float32
#: torch landed 4.3e-5 from the exact action, ONNX Runtime 9.6e-5, and float32 torch on the
#: observation's ulp neighbours up to 1.1e-4.
ULP_NEIGHBOURS = 8
#: Observations the policy visits, for the parity check: one array, or one per robot.
Samples = np.ndarray | Mapping[str, np.ndarray] | None
RANDOM_BATCH = 64


class ExportError(RuntimeError):
    """Export failed or the exported graph disagrees with the torch module."""


def export_policy(module: torch.nn.Module, card: PolicyCard, out_path: str | Path, *,
                  sample_observations: Samples = None, seed: int = 0) -> float:
    """Write ``out_path`` (.onnx) and ``out_path`` with ``.card.yaml``; return the max |Δ|.

    ``module`` takes the tensors of ``card.onnx['inputs']`` in order and returns its outputs
    in order (a tensor, or a tuple when there are several); the graph's inputs and outputs
    get the card's names. Parity with ONNX Runtime is checked on every output, on
    ``sample_observations`` plus random ones, and must be within :data:`PARITY_TOLERANCE`;
    a NaN or Inf on either side is a failure.

    A card with variants gets one graph, traced once on the default robot with its named
    sizes as dynamic axes, and parity is checked for every variant (``sample_observations``:
    a mapping robot → observations).
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    module = module.to('cpu').eval()
    try:  # the card may have been edited since it was made: validate it as a reader would
        PolicyCard.from_yaml(card.to_yaml(), source=out_path)
    except CardError as error:
        raise ExportError(str(error)) from error
    default = card.variant(card.robot)
    example = tuple(torch.from_numpy(v)
                    for v in _inputs(default, _observations(default, 1)).values())
    names = [i['name'] for i in card.onnx['inputs']]
    output_names = [o['name'] for o in card.onnx['outputs']]
    dynamic = {e['name']: {axis: size for axis, size in enumerate(e['shape'])
                           if isinstance(size, str)}
               for e in card.onnx['inputs'] + card.onnx['outputs']}
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated but exact here
        warnings.simplefilter('ignore', DeprecationWarning)
        torch.onnx.export(module, example, buffer, input_names=names,
                          output_names=output_names, opset_version=card.onnx['opset'],
                          dynamo=False,
                          dynamic_axes={name: axes for name, axes in dynamic.items() if axes})
    model = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(model)
    try:  # e.g. torch drops an input the module never reads
        card.check_graph(*_signature(model))
    except CardError as error:
        raise ExportError(str(error)) from error
    model.producer_name = 'synergy_control'
    errors = {robot: parity_error(module, model.SerializeToString(), card.variant(robot),
                                  _samples_of(sample_observations, robot), seed)
              for robot in card.robots}
    error = max(errors.values())
    card.training = {**card.training, 'export_parity_max_abs_diff': float(error)}
    if card.variants is not None:
        card.training['export_parity_by_robot'] = {r: float(e) for r, e in errors.items()}
    del model.metadata_props[:]
    for key, value in _metadata(card).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    tmp = out_path.with_suffix('.onnx.tmp')
    tmp.write_bytes(model.SerializeToString())
    tmp.replace(out_path)
    card.save(card_path(out_path))
    return error


def _samples_of(samples: Samples, robot: str) -> np.ndarray | None:
    """Return the sample observations of ``robot`` (one array: a single-robot card's)."""
    return samples.get(robot) if isinstance(samples, Mapping) else samples


def card_path(onnx_path: str | Path) -> Path:
    """Where the readable card of a model lives: ``NAME.card.yaml`` beside ``NAME.onnx``."""
    onnx_path = Path(onnx_path)
    return onnx_path.with_name(onnx_path.stem + '.card.yaml')


def _signature(model: onnx.ModelProto) -> tuple[list, list]:
    """(name, shape) of the graph's inputs and outputs; symbolic sizes stay names."""
    def shape(value: onnx.ValueInfoProto) -> list:
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
    return ([(v.name, shape(v)) for v in model.graph.input],
            [(v.name, shape(v)) for v in model.graph.output])


def _metadata(card: PolicyCard) -> dict[str, str]:
    """Flatten the card, plus keys that non-Python deployments read without a YAML parser."""
    return {METADATA_KEY: card.to_yaml(), 'robot': card.robot, 'robots': ','.join(card.robots),
            'joint_names': ','.join(card.joint_names),
            'observation_mode': card.observation['mode'],
            'control_period': repr(card.control_period),
            'command_interface': card.action['command_interface'],
            'inputs': ','.join(i['name'] for i in card.onnx['inputs']),
            'outputs': ','.join(o['name'] for o in card.onnx['outputs'])}


def _observations(card: PolicyCard, rows: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, card.observation['size'])).astype(np.float32)


def _inputs(card: PolicyCard, observations: np.ndarray) -> dict[str, np.ndarray]:
    """Feed of every graph input for a batch of observations, as the runtime feeds it.

    Rows cycle through the card's named tasks, so every task embedding is checked.
    """
    rows = len(observations)
    tasks = list((card.tasks or {}).get('embeddings', {}).values())
    feed = {}
    for entry in card.onnx['inputs']:
        source = entry['source']
        if source == 'observation':
            feed[entry['name']] = observations
        elif source == 'task_embedding':
            feed[entry['name']] = np.asarray([tasks[r % len(tasks)] for r in range(rows)],
                                             dtype=np.float32)
        elif source.startswith(SYNERGY_SOURCE):
            feed[entry['name']] = card.constant(source)
    return feed


def parity_error(module: torch.nn.Module, onnx_bytes: bytes, card: PolicyCard,
                 sample_observations: np.ndarray | None, seed: int) -> float:
    """Max |torch − ONNX Runtime| over every output; ExportError past tolerance or non-finite.

    Checked on random observations and ``sample_observations`` (states the policy visits).
    The error of an output larger than 1 (unbounded synergy activations) is taken relative to
    its largest magnitude: float32 rounding grows with it. A sample whose difference exceeds
    :data:`PARITY_TOLERANCE` fails unless float32 itself is the cause there: ONNX Runtime is
    within :data:`CONDITIONING_FACTOR` × float32 torch's own distance from the float64
    evaluation of the module, on the sample or one of its :data:`ULP_NEIGHBOURS` (see
    :func:`_excused`).
    """
    batches = [_observations(card, RANDOM_BATCH, seed)]
    if sample_observations is not None and len(sample_observations):
        batches.append(np.asarray(sample_observations, dtype=np.float32).reshape(
            -1, card.observation['size']))
    session = ort.InferenceSession(onnx_bytes, providers=['CPUExecutionProvider'])
    exact_module = None  # the float64 copy, made only when a sample needs the excuse
    rng = np.random.default_rng(seed)
    names = [o['name'] for o in card.onnx['outputs']]
    worst = dict.fromkeys(names, 0.0)
    unexcused = dict.fromkeys(names, 0.0)
    for batch in batches:
        feed = _inputs(card, batch)
        expected = _torch_outputs(module, feed, card)
        got = session.run(names, feed)
        exact = None
        for index, (name, e, g) in enumerate(zip(names, expected, got)):
            for side, values in (('torch', e), ('ONNX Runtime', g)):
                bad = int(np.sum(~np.isfinite(values)))
                if bad:
                    raise ExportError(f"output '{name}' has {bad} non-finite values in {side}: "
                                      'the policy is broken (NaN weights?); nothing written')
            if e.shape != g.shape:
                raise ExportError(f"output '{name}': torch shape {e.shape} != ONNX Runtime "
                                  f'{g.shape}')
            if not e.size:
                continue
            scale = max(1.0, float(np.max(np.abs(e))))
            rows = _row_max(e - g) / scale
            worst[name] = max(worst[name], float(rows.max()))
            if rows.max() <= PARITY_TOLERANCE:
                continue
            if exact is None:  # float64 only where float32 might be the cause
                if exact_module is None:
                    exact_module = copy.deepcopy(module).double()
                exact = _torch_outputs(exact_module, feed, card, torch.float64)
                neighbours = [_torch_outputs(module, _ulp_neighbour(feed, card, rng), card)
                              for _ in range(ULP_NEIGHBOURS)]
            x = exact[index]
            float32_error = np.max([_row_max(f[index] - x) for f in [expected, *neighbours]],
                                   axis=0)
            failing = rows[~_excused(rows, _row_max(g - x), float32_error, scale)]
            unexcused[name] = max(unexcused[name], float(failing.max(initial=0.0)))
    failed = {n: d for n, d in unexcused.items() if d > PARITY_TOLERANCE}
    if failed:
        raise ExportError('torch vs ONNX Runtime differ: ' + ', '.join(
            f"output '{n}' by {d:.3g}" for n, d in failed.items())
            + f' > {PARITY_TOLERANCE}')
    return max(worst.values())


def _torch_outputs(module: torch.nn.Module, feed: dict[str, np.ndarray], card: PolicyCard,
                   dtype: torch.dtype = torch.float32) -> list[np.ndarray]:
    """Return the module's outputs on ``feed``, its float inputs cast to ``dtype``."""
    inputs = [torch.from_numpy(v) for v in feed.values()]
    try:
        with torch.no_grad():
            out = module(*(t.to(dtype) if t.is_floating_point() else t for t in inputs))
    except RuntimeError as error:  # e.g. a module made for another robot's sizes
        raise ExportError(f"the policy module fails on robot '{card.robot}': "
                          f'{str(error)[:200]}') from error
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


def _ulp_neighbour(feed: dict[str, np.ndarray], card: PolicyCard, rng: np.random.Generator
                   ) -> dict[str, np.ndarray]:
    """Return the feed with every non-zero observation value moved one float32 ulp up or down.

    Only observations: the other inputs are constants the graph may compare (a membership
    matrix is a mask), and a zero stays zero for the same reason.
    """
    observed = {entry['name'] for entry in card.onnx['inputs']
                if entry['source'] == 'observation'}

    def moved(values: np.ndarray) -> np.ndarray:
        toward = np.where(rng.random(values.shape) < 0.5, -np.inf, np.inf).astype(values.dtype)
        return np.where(values == 0, values, np.nextafter(values, toward))
    return {name: moved(values) if name in observed else values
            for name, values in feed.items()}


def _row_max(values: np.ndarray) -> np.ndarray:
    """Largest |value| of each sample (leading axis) of an output."""
    return np.abs(values.astype(np.float64)).reshape(len(values), -1).max(1)


def _excused(differences: np.ndarray, onnx_vs_exact: np.ndarray, torch_vs_exact: np.ndarray,
             scale: float) -> np.ndarray:
    """Per sample: within tolerance, or ONNX Runtime as exact as float32 torch allows there."""
    allowed = np.maximum(PARITY_TOLERANCE, CONDITIONING_FACTOR * torch_vs_exact / scale)
    return (differences <= PARITY_TOLERANCE) | (onnx_vs_exact / scale <= allowed)
