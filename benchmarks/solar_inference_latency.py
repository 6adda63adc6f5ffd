"""Benchmark: SOLAR policy inference latency against the number of limbs (ONNX Runtime, 1 thread).

One exported SOLAR graph (``SynergyPolicyGraph``, the graph ``export --robot all`` writes)
serves robots of any size: its observation, membership, action and synergy sizes are dynamic.
Timed on it, one observation per call, side by side in one process:

* the real robots it was exported for (walker_7_main: 7 limbs, humanoid_2d_9_full: 9 limbs):
  the inference alone (``session.run`` with the runtime's feed) and the whole runtime step
  the policy node pays (``PolicyRuntime.act``: modular observation + inference + scaling);
* generated sizes of 17 and 33 limbs (random limb tokens, synergies of three consecutive
  actuators): the inference alone, on the same graph.

Each inference is timed twice, side by side: with the robot's sizes fixed when the session
opens (what ``PolicyRuntime`` does: ORT folds the graph's shape arithmetic) and with them left
dynamic (the graph as exported).

Both model sizes: the reference settings (width 128, 2 heads, feed-forward 256, 1 + 2 layers)
and the reduced CPU configuration (32, 2, 64, 1 + 1). Weights are random: latency does not
depend on them. Writes benchmarks/results/solar_inference_latency.json.

    .venv/bin/python benchmarks/solar_inference_latency.py [--calls 3000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from inference_latency import percentiles, time_calls
from synergy_control.card import OPSET, PolicyCard, variable_signature
from synergy_control.envs import make_env
from synergy_control.export import export_policy
from synergy_control.methods.solar.networks import SynergyActor
from synergy_control.methods.solar.policy import SynergyPolicyGraph
from synergy_control.methods.solar.synergies import discover
from synergy_control.observation import TOKEN_SIZE
from synergy_control.robots import get_robot
from synergy_control.runtime import PolicyRuntime, open_session

RESULTS = Path(__file__).parent / 'results' / 'solar_inference_latency.json'
ROBOTS = ['walker_7_main', 'humanoid_2d_9_full']
GENERATED_LIMBS = [17, 33]
SIZES = {'reference': {'d_model': 128, 'heads': 2, 'feedforward': 256, 'intra_layers': 1,
                       'inter_layers': 2},
         'cpu': {'d_model': 32, 'heads': 2, 'feedforward': 64, 'intra_layers': 1,
                 'inter_layers': 1}}
SIGNATURE = {'opset': OPSET, 'inputs': [
    {'name': 'obs', 'shape': ['batch', 1], 'source': 'observation'},
    {'name': 'membership', 'shape': [1, 1], 'source': 'synergy.membership'}],
    'outputs': [{'name': 'action', 'shape': ['batch', 1], 'role': 'action'},
                {'name': 'synergy', 'shape': ['batch', 1], 'role': 'synergy_activations'}]}


def export_graph(sizes: dict, path: Path) -> None:
    """Export a random SOLAR graph for ROBOTS, each with its limb-graph synergies."""
    torch.manual_seed(0)
    robots = [get_robot(name) for name in ROBOTS]
    sections = {r.name: discover(r.hop_distances).structure.to_card() for r in robots}
    card = PolicyCard.for_robots(robots, name=path.stem, method='solar', obs_mode='modular',
                                 onnx=variable_signature(SIGNATURE),
                                 synergy={**sections[ROBOTS[0]], 'variants': sections})
    graph = SynergyPolicyGraph(torch.nn.Identity(), SynergyActor(**sizes), True)
    export_policy(graph, card, path)


def visited_states(robot: str, calls: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """States of random-action episodes (what the node would be fed)."""
    env = make_env(robot, obs_mode='modular')
    env.reset(seed=0)
    states = []
    for _ in range(calls):
        states.append((env.data.qpos.copy(), env.data.qvel.copy()))
        if any(env.step(env.action_space.sample())[2:4]):
            env.reset()
    return states


def generated_feed(limbs: int, calls: int) -> list[dict[str, np.ndarray]]:
    """Random tokens of ``limbs`` limbs; synergies of three consecutive actuators."""
    rng = np.random.default_rng(0)
    actuators = limbs - 1
    membership = np.eye(-(-actuators // 3), dtype=np.float32)[np.arange(actuators) // 3]
    return [{'obs': rng.normal(size=(1, limbs * TOKEN_SIZE)).astype(np.float32),
             'membership': membership} for _ in range(calls)]


def fixed_dims(feed: dict[str, np.ndarray]) -> dict[str, int]:
    """The symbolic sizes of the SOLAR graph for one feed (what the runtime fixes at load)."""
    return {'batch': 1, 'observation_size': feed['obs'].shape[1],
            'actuators': feed['membership'].shape[0], 'synergies': feed['membership'].shape[1]}


def inference_rows(path: Path, feeds: list[dict[str, np.ndarray]]) -> dict:
    """Percentiles of the graph with its sizes fixed for this robot, and left dynamic."""
    fixed, dynamic = open_session(path, 1, fixed_dims(feeds[0])), open_session(path, 1)
    return {'inference': percentiles(time_calls(lambda f: fixed.run(None, f), feeds)),
            'inference_dynamic': percentiles(time_calls(lambda f: dynamic.run(None, f), feeds))}


def measure(sizes: dict, calls: int) -> list[dict]:
    """Rows of limbs, synergies, inference and (real robots) runtime-step percentiles."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / 'solar.onnx'
        export_graph(sizes, path)
        for name in ROBOTS:
            runtime = PolicyRuntime(path, name, threads=1)
            states = visited_states(name, calls)
            feeds = [{'obs': runtime.observe(*s).astype(np.float32)[None],
                      'membership': runtime.card.constant('synergy.membership')}
                     for s in states]
            rows.append({'robot': name, 'limbs': len(runtime.robot.limbs),
                         'synergies': runtime.synergy_count, **inference_rows(path, feeds),
                         'runtime_step': percentiles(time_calls(
                             lambda s: runtime.act(*s), states))})
        for limbs in GENERATED_LIMBS:
            feeds = generated_feed(limbs, calls)
            rows.append({'robot': f'generated ({limbs} limbs)', 'limbs': limbs,
                         'synergies': int(feeds[0]['membership'].shape[1]),
                         **inference_rows(path, feeds)})
    return rows


def main() -> None:
    """Run the benchmark and write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--calls', type=int, default=3000)
    parser.add_argument('--out', type=Path, default=RESULTS)
    parser.add_argument('--note', default='', help='conditions of the run, kept in the JSON')
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = {'command': f'python benchmarks/solar_inference_latency.py --calls {args.calls}',
              'calls': args.calls, 'threads': 1, 'onnxruntime': onnxruntime.__version__,
              'machine': f'{platform.machine()} {platform.processor() or ""}'.strip(),
              'cpus': os.cpu_count(), 'load_average_at_start': os.getloadavg()[0],
              'note': args.note,
              'target': 'p99 <= 200 us at 9 limbs (moonshot <= 100 us)',
              'models': {name: {'sizes': sizes, 'rows': measure(sizes, args.calls)}
                         for name, sizes in SIZES.items()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + '\n')
    for name, model in result['models'].items():
        for row in model['rows']:
            step = row.get('runtime_step')
            fixed, dynamic = row['inference'], row['inference_dynamic']
            print(f"{name:<9} {row['robot']:<22} {row['limbs']:>3} limbs L={row['synergies']:<2} "
                  f"inference p50/p99 {fixed['p50_us']:6.1f}/{fixed['p99_us']:6.1f} us "
                  f"(sizes dynamic {dynamic['p50_us']:6.1f}/{dynamic['p99_us']:6.1f})"
                  + (f"; runtime step p50 {step['p50_us']:6.1f} p99 {step['p99_us']:6.1f} us"
                     if step else ''))


if __name__ == '__main__':
    main()
