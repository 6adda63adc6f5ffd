"""SOLAR training speed on Walker++: batched morphologies vs a loop over them, and overhead.

Three trainers of ``config/train/walker_solar_cpu.yaml`` (4 training walkers, TD3, width 32,
half an update per env step, batch 100) are warmed up, then timed in interleaved rounds:

* ``solar batched``: ONE padded, masked forward/backward over all morphologies per update;
* ``solar looped``: the same model run one morphology at a time, the reference code's way
  (SMP/AMORPHEUS/SOLAR: a Python loop of per-morphology, unpadded forward/backward and
  optimiser steps), each on that walker's share of the same batch, so both see the same
  samples per environment step;
* ``amorpheus batched``: the AMORPHEUS-like baseline (same width and depth, no synergies): the
  synergy machinery's overhead is SOLAR's time over AMORPHEUS's;
* with ``--baseline-networks FILE`` (an older ``synergy_control/methods/solar/networks.py``,
  e.g. ``git show main:synergy_control/methods/solar/networks.py > /tmp/networks_main.py``):
  ``solar batched (baseline)``, the batched trainer on that file's actor and critic. A critic
  without ``first_only`` runs both trunks in TD3's actor loss, as the code before it did. The
  A/B ratio is this code's speed over the baseline's, side by side in the same rounds.

``--action-selection``: instead, the training loop's action selection per env step on the 4
training walkers, same agent and weights, interleaved: one batched actor pass over the
walkers (``OffPolicyAgent.act_robots``, what ``Trainer.run`` does) against one ``act`` per
walker (what it did before). Writes ``solar_action_selection.json``.

Reported per trainer: the training loop's env steps/s and updates/s (simulation, acting,
replay and updates) and update-only updates/s on the filled replay, each from the best round
(the least disturbed on a shared machine; every round's figure is in the JSON). The
re-clustering hook's cost is timed once and amortised over its period.
Writes ``benchmarks/results/solar_training_speed[_<u>_updates].json``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import inspect
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch

from synergy_control.envs import make_env
from synergy_control.methods.solar import policy as solar_policy
from synergy_control.policies.registry import PolicyContext
from synergy_control.training.buffers import Batch
from synergy_control.training.checkpoint import make_agent
from synergy_control.training.config import Config, load_config
from synergy_control.training.runner import StopRequest, Trainer
from synergy_control.training.td3 import TD3

ROOT = Path(__file__).resolve().parents[1]
BASELINE = 'solar batched (baseline)'
RESULTS = Path(__file__).parent / 'results'


class LoopedTD3(TD3):
    """TD3 whose update loops over the morphologies of a batch, each unpadded on its own."""

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        metrics: dict[str, torch.Tensor] = {}
        for index in batch.robot.unique().tolist():
            rows = batch.robot == index
            obs, act = self.context.obs_dims[index], self.context.act_dims[index]
            metrics = super().update(Batch(
                batch.obs[rows, :obs], batch.action[rows, :act], batch.reward[rows],
                batch.next_obs[rows, :obs], batch.terminated[rows], batch.robot[rows]))
        return metrics


def load_networks(path: Path) -> object:
    """Import an older copy of SOLAR's networks module from ``path``."""
    spec = importlib.util.spec_from_file_location('baseline_solar_networks', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def networks_of(module: object):
    """Build SOLAR policies from ``module``'s actor and critic while inside the block."""
    critic = module.SynergyCritic
    if 'first_only' not in inspect.signature(critic.forward).parameters:
        class FullTwinCritic(critic):
            """The old critic: TD3's actor loss gets both trunks' Q and reads the first."""

            def forward(self, tokens, membership, actions, first_only=False):
                return super().forward(tokens, membership, actions)
        critic = FullTwinCritic
    saved = solar_policy.SynergyActor, solar_policy.SynergyCritic
    solar_policy.SynergyActor, solar_policy.SynergyCritic = module.SynergyActor, critic
    try:
        yield
    finally:
        solar_policy.SynergyActor, solar_policy.SynergyCritic = saved


def configured(variant: str, start_steps: int, updates_per_step: float | None = None
               ) -> Config:
    """The reduced SOLAR config (``variant``), warming up ``start_steps`` per walker."""
    config = load_config(ROOT / 'config' / 'train' / 'walker_solar_cpu.yaml')
    if updates_per_step is not None:
        config = dataclasses.replace(config, updates_per_step=updates_per_step)
    policy = dataclasses.replace(config.policy, settings=dataclasses.replace(
        config.policy.settings, variant=variant))
    return dataclasses.replace(config, policy=policy, start_steps=start_steps,
                               hooks=config.hooks if variant != 'amorpheus' else [],
                               total_steps=4 * start_steps, eval_every=10**9,
                               checkpoint_every=10**9, log_every=10**9)


def advance(trainer: Trainer, steps: int) -> float:
    """Train ``steps`` more env steps; return their seconds (no evaluation at the end)."""
    end = trainer.env_steps + steps
    trainer.config = dataclasses.replace(trainer.config, total_steps=end)
    trainer.last_eval = {'step': end}  # a run's closing evaluation is not part of the loop
    start = time.perf_counter()
    trainer.run(StopRequest())
    return time.perf_counter() - start


def time_updates(trainer: Trainer, updates: int) -> float:
    """Seconds per update on the filled replay."""
    start = time.perf_counter()
    for _ in range(updates):
        trainer.agent.update(trainer.buffer.sample(trainer.config.batch_size))
    return (time.perf_counter() - start) / updates


def time_action_selection(rounds: int, calls: int) -> dict:
    """Seconds per env step of acting, batched over the training walkers vs one act each."""
    config = configured('solar', start_steps=0)
    names = config.robot_split()[0]
    agent = make_agent(config, 'cpu', PolicyContext.build(*config.robot_split(), config.obs_mode))
    observations = [make_env(name, config.obs_mode).reset(seed=i)[0]
                    for i, name in enumerate(names)]
    ways = {'batched': lambda: agent.act_robots(observations, names),
            'per robot': lambda: [agent.act(obs, robot=name)
                                  for obs, name in zip(observations, names)]}
    samples: dict[str, list[float]] = {way: [] for way in ways}
    for act in ways.values():
        act()  # warm-up
    for _ in range(rounds):
        for way, act in ways.items():
            start = time.perf_counter()
            for _ in range(calls):
                act()
            samples[way].append((time.perf_counter() - start) / (calls * len(names)))
    best = {way: min(values) for way, values in samples.items()}
    return {'robots': names, 'calls_per_round': calls,
            'ms_per_env_step': {way: 1e3 * value for way, value in best.items()},
            'speedup': best['per robot'] / best['batched'], 'samples_s_per_env_step': samples}


def main(argv: list[str] | None = None) -> dict:
    """Warm three trainers up, then time them in interleaved rounds; write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--rounds', type=int, default=6, help='interleaved rounds (default 6)')
    parser.add_argument('--steps', type=int, default=100,
                        help='env steps per trainer and round (default 100)')
    parser.add_argument('--updates', type=int, default=10,
                        help='update-only repetitions per trainer and round (default 10)')
    parser.add_argument('--start-steps', type=int, default=25,
                        help='random steps per walker before learning (default 25)')
    parser.add_argument('--updates-per-step', type=float,
                        help="override the config's 0.5 (the reference code makes 1)")
    parser.add_argument('--note', default='', help='how loaded the machine was')
    parser.add_argument('--baseline-networks', type=Path,
                        help='an older methods/solar/networks.py to A/B the batched trainer on')
    parser.add_argument('--action-selection', action='store_true',
                        help='time acting per env step, batched vs per robot, instead')
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    if args.action_selection:
        result = {**header(argv, args.note, load_before), 'rounds': args.rounds,
                  **time_action_selection(args.rounds, 10 * args.steps)}
        write(result, 'solar_action_selection.json', ('ms_per_env_step', 'speedup'))
        return result
    setups = {'solar batched': ('solar', False), 'solar looped': ('solar', True),
              'amorpheus batched': ('amorpheus', False)}
    baseline = load_networks(args.baseline_networks) if args.baseline_networks else None
    if baseline is not None:
        setups[BASELINE] = ('solar', False)
    samples: dict[str, dict[str, list[float]]] = {
        name: {'loop_s_per_step': [], 'update_s': []} for name in setups}
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {}
        for name, (variant, looped) in setups.items():
            config = configured(variant, args.start_steps, args.updates_per_step)
            run_dir = Path(tmp) / name.replace(' ', '_').strip('()')
            with (networks_of(baseline) if name == BASELINE else contextlib.nullcontext()):
                trainer = trainers[name] = Trainer(config, run_dir, 'cpu', progress=False)
            if looped:
                trainer.agent = LoopedTD3(trainer.context, config)
            advance(trainer, 4 * args.start_steps)  # random steps, then the first updates
        try:
            for _ in range(args.rounds):
                for name, trainer in trainers.items():
                    seconds = advance(trainer, args.steps)
                    samples[name]['loop_s_per_step'].append(seconds / args.steps)
                    samples[name]['update_s'].append(time_updates(trainer, args.updates))
            solar = trainers['solar batched']
            start = time.perf_counter()
            solar.hooks[0](solar)
            recluster_s = time.perf_counter() - start
        finally:
            for trainer in trainers.values():
                trainer.close()
    per_update = solar.config.updates_per_step
    # best round: on a shared machine the least-disturbed round is the code's own speed
    runs = {name: {'loop_env_steps_per_s': 1 / min(s['loop_s_per_step']),
                   'loop_updates_per_s': per_update / min(s['loop_s_per_step']),
                   'update_only_per_s': 1 / min(s['update_s']),
                   'samples': s} for name, s in samples.items()}
    batched, looped, amorpheus = (runs[n] for n in list(setups)[:3])
    ratio = {key: batched[key] / looped[key]
             for key in ('loop_env_steps_per_s', 'update_only_per_s')}
    overhead = {key: amorpheus[key] / batched[key]  # SOLAR's time over AMORPHEUS's
                for key in ('loop_env_steps_per_s', 'update_only_per_s')}
    every = solar.config.hooks[0].every
    overhead['recluster_s'] = recluster_s
    overhead['recluster_share_of_loop_time'] = (recluster_s * batched['loop_env_steps_per_s']
                                                / every)
    result = {
        **header(argv, args.note, load_before),
        'updates_per_step': solar.config.updates_per_step, 'rounds': args.rounds,
        'steps_per_round': args.steps, 'updates_per_round': args.updates, 'runs': runs,
        'batched_vs_looped_speedup': ratio, 'solar_over_amorpheus_time': overhead}
    if baseline is not None:
        result['baseline_networks'] = str(args.baseline_networks)
        result['speedup_over_baseline'] = {key: batched[key] / runs[BASELINE][key]
                                           for key in ('loop_env_steps_per_s',
                                                       'update_only_per_s')}
    suffix = '' if args.updates_per_step is None else f'_{args.updates_per_step:g}_updates'
    suffix += '_ab' if baseline is not None else ''
    write(result, f'solar_training_speed{suffix}.json',
          ('batched_vs_looped_speedup', 'solar_over_amorpheus_time', 'speedup_over_baseline'))
    for name, run in runs.items():
        print(f"{name}: {run['loop_env_steps_per_s']:.1f} env steps/s, "
              f"{run['loop_updates_per_s']:.1f} updates/s in the loop, "
              f"{run['update_only_per_s']:.1f} updates/s update-only")
    return result


def header(argv: list[str] | None, note: str, load_before: tuple[float, ...]) -> dict:
    """The command, machine, load average (before and now) and config of a result."""
    return {'command': shlex.join([Path(sys.executable).name,
                                   'benchmarks/solar_training_speed.py',
                                   *(argv if argv is not None else sys.argv[1:])]),
            'machine': f'{platform.machine()} {os.cpu_count()} cores, '
                       f'torch {torch.__version__}, 1 thread',
            'note': note, 'load_average_before_after': [load_before[0], os.getloadavg()[0]],
            'config': 'config/train/walker_solar_cpu.yaml'}


def write(result: dict, name: str, summary: tuple[str, ...]) -> None:
    """Write ``result`` to ``results/name`` and print its ``summary`` keys."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / name).write_text(json.dumps(result, indent=2) + '\n')
    print(json.dumps({k: result[k] for k in summary if k in result}, indent=2))


if __name__ == '__main__':
    main()
