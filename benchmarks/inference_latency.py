"""Benchmark (a): one-observation policy inference latency, ONNX Runtime vs torch eager.

Both run one thread on the same MLP policy (256x256, walker_7_main, normaliser baked in),
timed side by side in one process. Also times the full runtime step the policy node pays
(observation building + inference + action scaling). Writes
benchmarks/results/inference_latency.json.

    .venv/bin/python benchmarks/inference_latency.py [--policy models/td3/walker_td3.onnx]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from synergy_control.card import PolicyCard
from synergy_control.envs import make_env
from synergy_control.export import export_policy
from synergy_control.policies.networks import DeterministicActor, DeterministicPolicy
from synergy_control.robots import get_robot
from synergy_control.runtime import PolicyRuntime
from synergy_control.training.normalizer import Standardize

RESULTS = Path(__file__).parent / 'results' / 'inference_latency.json'


def percentiles(samples_s: list[float]) -> dict[str, float]:
    """p50/p99/mean in microseconds."""
    us = np.asarray(samples_s) * 1e6
    return {'p50_us': float(np.percentile(us, 50)), 'p99_us': float(np.percentile(us, 99)),
            'mean_us': float(us.mean())}


def time_calls(fn, inputs: list, warmup: int = 200) -> list[float]:
    """Wall time of each call of ``fn`` on each input, after a warm-up."""
    for x in inputs[:warmup]:
        fn(x)
    samples = []
    for x in inputs:
        start = time.perf_counter()
        fn(x)
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    """Run the benchmark and write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--calls', type=int, default=5000)
    parser.add_argument('--out', type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    robot = get_robot('walker_7_main')
    torch.manual_seed(0)
    module = DeterministicPolicy(Standardize(torch.zeros(17), torch.ones(17), 10.0),
                                 DeterministicActor(17, 6, [256, 256])).eval()
    card = PolicyCard.for_robot(robot, name='bench', method='td3', obs_mode='flat')
    env = make_env('walker_7_main')
    env.reset(seed=0)
    states, observations = [], []
    for _ in range(args.calls):
        states.append((env.data.qpos.copy(), env.data.qvel.copy()))
        observations.append(env.observation().astype(np.float32)[None])
        if any(env.step(env.action_space.sample())[2:4]):
            env.reset()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / 'bench.onnx'
        export_policy(module, card, path)
        runtime = PolicyRuntime(path, threads=1)
        session = runtime.session
        ort_samples = time_calls(lambda x: session.run(None, {'obs': x}), observations)
        with torch.inference_mode():
            torch_samples = time_calls(lambda x: module(torch.from_numpy(x)), observations)
        step_samples = time_calls(lambda s: runtime.act(*s), states)
    result = {
        'command': 'python benchmarks/inference_latency.py --calls %d' % args.calls,
        'model': 'MLP 17-256-256-6 + baked normaliser (walker_7_main)',
        'calls': args.calls, 'threads': 1,
        'onnxruntime': {'version': onnxruntime.__version__, **percentiles(ort_samples)},
        'torch_eager': {'version': torch.__version__, **percentiles(torch_samples)},
        'runtime_step': {'what': 'obs build + ORT + scaling (PolicyRuntime.act)',
                         **percentiles(step_samples)},
        'machine': f'{platform.machine()} {platform.processor() or ""}'.strip(),
        'target': 'ORT p99 <= 100 us',
    }
    result['speedup_p50'] = result['torch_eager']['p50_us'] / result['onnxruntime']['p50_us']
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + '\n')
    print(json.dumps(result, indent=2))


if __name__ == '__main__':
    main()
