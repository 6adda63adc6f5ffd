"""``synergy-control tasks list|interpolate|compose|adapt``: EAR's task space from the shell.

All of it runs on the exported policy through the ONNX runtime (no torch): the task
embedding is the graph's second input, so blending and adapting never touch the networks.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from synergy_control.cli import non_negative_int, positive_float, positive_int, print_json


def parse_betas(text: str) -> list[float]:
    """Comma-separated blend weights, each in [0, 1] (argparse type)."""
    try:
        betas = [float(b) for b in text.split(',')]
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected numbers separated by commas, got {text!r}') \
            from None
    if not betas or not all(0.0 <= b <= 1.0 for b in betas):
        raise argparse.ArgumentTypeError(f'every beta must be in [0, 1], got {text!r}')
    return betas


def task_section(policy: str) -> dict:
    """Return the tasks section of a policy that takes a task embedding (ValueError if none)."""
    from synergy_control.runtime import read_card
    card = read_card(policy)
    if card.input_of('task_embedding') is None:
        raise ValueError(f'policy {policy} takes no task embedding')
    return card.tasks


def cmd_list(args: argparse.Namespace) -> int:
    """Print the policy's named tasks and their embeddings."""
    tasks = task_section(args.policy)
    if args.json:
        print_json(tasks)
        return 0
    print(f"{args.policy}: {len(tasks['embeddings'])} tasks on the unit sphere in "
          f"R^{tasks['dim']}, default {tasks['default']}")
    for name in sorted(tasks['embeddings']):
        print(f"  {name:<10} [{', '.join(f'{v:+.3f}' for v in tasks['embeddings'][name])}]")
    return 0


def blend_table(policy: str, first: str, second: str, betas: list[float], episodes: int,
                seed: int, robot: str | None = None, task: str | None = None) -> list[dict]:
    """Forward speed, root height and embedding of normalise(β z_first + (1 − β) z_second).

    Episodes run on the environment task ``task`` (default: ``first``, so that they last
    as long as the training episodes did).
    """
    from synergy_control.evaluation import evaluate
    from synergy_control.task_embedding import parse_task
    tasks = task_section(policy)
    rows = []
    for beta in betas:
        command = f'{first} {second} {beta:g}'
        result = evaluate(policy, robot, episodes=episodes, seed=seed, task=task or first,
                          command=command)
        embedding = parse_task(command, tasks['embeddings'], tasks['dim'])
        rows.append({'beta': beta, 'command': command, 'embedding': embedding.tolist(),
                     'mean_speed': result['mean_speed'],
                     'mean_height': float(np.mean([r['mean_height']
                                                   for r in result['results']])),
                     'max_height': float(np.mean([r['max_height']
                                                  for r in result['results']])),
                     'mean_length': result['mean_length']})
    return rows


def cmd_blend(args: argparse.Namespace) -> int:
    """Roll out blends of two named tasks and report what each does."""
    rows = blend_table(args.policy, args.first, args.second, args.betas, args.episodes,
                       args.seed, args.robot, args.task)
    if args.json:
        print_json(rows)
        return 0
    print(f'normalise(beta * z({args.first}) + (1 - beta) * z({args.second})), '
          f'{args.episodes} episode(s) each:')
    print(f"  {'beta':>5}  {'speed m/s':>9}  {'height m':>8}  {'peak m':>6}  {'length':>6}")
    for row in rows:
        print(f"  {row['beta']:5.2f}  {row['mean_speed']:9.2f}  {row['mean_height']:8.3f}  "
              f"{row['max_height']:6.3f}  {row['mean_length']:6.0f}")
    return 0


def adapt(policy: str, task: str, *, iterations: int, elites: int, samples_per_elite: int,
          noise: float, seed: int, robot: str | None = None) -> dict:
    """CEM over the task embedding only (EAR Algorithm 2), one episode per candidate."""
    from synergy_control.envs import LocomotionEnv
    from synergy_control.evaluation import run_episode
    from synergy_control.methods.ear.adapt import cem_adapt
    from synergy_control.runtime import PolicyRuntime
    task_section(policy)
    runtime = PolicyRuntime(policy, robot)
    env = LocomotionEnv(runtime.robot, obs_mode=runtime.card.observation['mode'], task=task)
    steps = 0

    def score(embedding: np.ndarray) -> float:
        nonlocal steps
        runtime.set_task(embedding)
        episode = run_episode(runtime, env, seed)
        steps += episode.length
        return episode.episode_return

    result = cem_adapt(score, runtime.card.tasks['dim'], iterations=iterations, elites=elites,
                       samples_per_elite=samples_per_elite, noise=noise, seed=seed)
    return {'policy': str(policy), 'task': str(env.task), 'seed': seed,
            'embedding': result.embedding.tolist(), 'return': result.score,
            'best_return_per_iteration': result.history, 'episodes': result.evaluations,
            'env_steps': steps}


def cmd_adapt(args: argparse.Namespace) -> int:
    """Adapt to a new task by searching the embedding; print (and save) the result."""
    result = adapt(args.policy, args.task, iterations=args.iterations, elites=args.elites,
                   samples_per_elite=args.samples_per_elite, noise=args.noise, seed=args.seed,
                   robot=args.robot)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + '\n')
    if args.json:
        print_json(result)
        return 0
    print(f"{result['task']}: return {result['return']:.1f} after {result['episodes']} "
          f"episodes ({result['env_steps']} steps); best per iteration: "
          f"{', '.join(f'{r:.0f}' for r in result['best_return_per_iteration'])}")
    print(f"  embedding [{', '.join(f'{v:+.4f}' for v in result['embedding'])}] -- command "
          "the node with it as task:='[x, y, z]'")
    return 0


def add_commands(groups: dict[str, argparse._SubParsersAction]) -> None:
    """Add ``tasks list``, ``interpolate``, ``compose`` and ``adapt``."""
    tasks = groups['tasks']
    p = tasks.add_parser('list', help="a policy's named tasks and their embeddings")
    p.add_argument('--policy', required=True)
    p.add_argument('--json', action='store_true')
    p.set_defaults(func=cmd_list)

    for name, help_text, betas in [
            ('interpolate', 'blend two tasks of one family (e.g. two speeds) and measure',
             '0,0.25,0.5,0.75,1'),
            ('compose', 'blend tasks of two families (e.g. run and jump) and measure',
             '1,0.5,0')]:
        p = tasks.add_parser(name, help=help_text)
        p.add_argument('--policy', required=True)
        p.add_argument('first', help='a named task of the policy (beta = 1)')
        p.add_argument('second', help='a named task of the policy (beta = 0)')
        p.add_argument('--betas', type=parse_betas, default=parse_betas(betas))
        p.add_argument('--robot')
        p.add_argument('--task', help="the environment's task (default: FIRST)")
        p.add_argument('--episodes', type=positive_int, default=1)
        p.add_argument('--seed', type=non_negative_int, default=0)
        p.add_argument('--json', action='store_true')
        p.set_defaults(func=cmd_blend)

    p = tasks.add_parser('adapt', help='find the embedding of a new task by CEM (networks '
                         'frozen)')
    p.add_argument('--policy', required=True)
    p.add_argument('--task', required=True, help='the new task, e.g. vel:4.5')
    p.add_argument('--robot')
    p.add_argument('--iterations', type=positive_int, default=10)
    p.add_argument('--elites', type=positive_int, default=6)
    p.add_argument('--samples-per-elite', type=non_negative_int, default=14)
    p.add_argument('--noise', type=positive_float, default=0.5)
    p.add_argument('--seed', type=non_negative_int, default=0)
    p.add_argument('--out', help='write the result as JSON here')
    p.add_argument('--json', action='store_true')
    p.set_defaults(func=cmd_adapt)
