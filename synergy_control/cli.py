"""``synergy-control``: the command line over the ROS-free core and the node graph.

Heavy imports (torch, rclpy) happen inside the subcommands that need them, so that
``synergy-control robots`` answers at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import importlib
from pathlib import Path

from synergy_control.arguments import (non_negative_float, non_negative_int, positive_float,
                                       positive_int, print_json)
from synergy_control.observation import MODES as OBSERVATION_MODES
from synergy_control.ros.launch_plan import EXECUTORS, MODES as SIM_MODES


def cmd_robots(args: argparse.Namespace) -> int:
    """List families and variants with their joints."""
    from synergy_control.robots import FAMILIES, get_robot
    families = [f for f in FAMILIES.values() if args.family in (None, f.name)]
    if args.family and not families:
        raise SystemExit(f"unknown family '{args.family}'; known: {', '.join(FAMILIES)}")
    described = {f.name: {'description': f.description,
                          'variants': [get_robot(v.name).describe() for v in f.variants],
                          'tasks': f.describe_tasks()}
                 for f in families}
    if args.json:
        print_json(described)
        return 0
    for name, family in described.items():
        print(f'{name}: {family["description"]}')
        for robot in family['variants']:
            print(f"  {robot['name']:<26} {robot['split']:<9} {len(robot['joint_names'])} "
                  f"actuators, dt={robot['control_period']:.3f}s  joints: "
                  f"{', '.join(robot['joint_names'])}")
        print(f"  tasks: {', '.join(family['tasks']['kinds'])}")
        for task_set in family['tasks']['sets']:
            adapt = task_set['adapt']
            print(f"    {task_set['name']:<24} ({task_set['reference']}, {task_set['robot']}) "
                  f"train: {' '.join(task_set['train'])}"
                  + (f"; adapt {adapt['kind']} in {adapt['range']}" if adapt else ''))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Offline rollouts in MuJoCo through the ONNX runtime."""
    from synergy_control.evaluation import evaluate, judge_in_gymnasium
    if args.gymnasium is not None:
        if args.world:
            raise ValueError("--gymnasium judges the policy in gymnasium's environment: no "
                             '--world')
        result = judge_in_gymnasium(args.policy, args.gymnasium, args.episodes, args.seed,
                                    args.robot, task=args.task, command=args.task_command)
        if args.json:
            print_json(result)
        else:
            print(f"{result['policy']} in gymnasium's {result['gymnasium']}: return "
                  f"{result['mean_return']:.1f} ± {result['std_return']:.1f} over "
                  f"{result['episodes']} episodes (min {result['min_return']:.1f}, max "
                  f"{result['max_return']:.1f}), mean length {result['mean_length']:.0f}, "
                  f"mean speed {result['mean_speed']:.2f} m/s"
                  + ('' if result['command'] is None else f" (task {result['command']})"))
        return 0
    result = evaluate(args.policy, args.robot, episodes=args.episodes, seed=args.seed,
                      task=args.task, command=args.task_command, world=args.world)
    if args.json:
        print_json(result)
    else:
        task = ('' if result['command'] is None
                else f" ({result['task']}, task {result['command']})")
        world = '' if result['world'] == result['robot'] else f" in {result['world']}'s world"
        print(f"{result['policy']} on {result['robot']}{world}{task}: return "
              f"{result['mean_return']:.1f} ± "
              f"{result['std_return']:.1f} over {result['episodes']} episodes "
              f"(min {result['min_return']:.1f}, max {result['max_return']:.1f}), mean length "
              f"{result['mean_length']:.0f}, forward speed {result['mean_speed']:.2f} m/s")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Export a trained run/checkpoint (or an untrained policy) to ONNX with its card."""
    if args.untrained:
        from synergy_control.export import export_untrained
        card = export_untrained(args.untrained, args.out, obs_mode=args.obs_mode, seed=args.seed)
    else:
        if args.source is None:
            raise SystemExit('export needs RUN_DIR|CHECKPOINT or --untrained ROBOT')
        from synergy_control.export import export_checkpoint
        card = export_checkpoint(args.source, args.out, name=args.name, robot=args.robot,
                                 default_robot=args.default_robot)
    print(f"wrote {args.out} (+ card) for {card.robot}: parity "
          f"{card.training.get('export_parity_max_abs_diff', float('nan')):.2e}")
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    """Run the simulated robot under a policy through the same node graph as sim.launch.py."""
    from synergy_control.ros.environment import ensure_local_dds
    ensure_local_dds()
    from synergy_control.sim_runner import run_sim
    summary = run_sim(robot=args.robot, policy=args.policy, mode=args.mode,
                      duration=args.duration, realtime_factor=args.realtime_factor,
                      seed=args.seed, status=not args.json, executor=args.executor,
                      task=args.task)
    if args.json:
        print_json(summary)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train a policy from a YAML config (resumable)."""
    from synergy_control.training.runner import train
    run_dir = train(args.config, device=args.device, resume=args.resume, seed=args.seed,
                    run_dir=args.run_dir, total_steps=args.total_steps)
    print(f'run directory: {run_dir}')
    return 0


RAY_OPTIONS = ('address', 'cpus_per_run', 'gpus_per_run')


def cmd_sweep(args: argparse.Namespace) -> int:
    """Train several seeds (and configs) in parallel, resuming each where it stopped."""
    common = dict(runs_dir=args.runs_dir, device=args.device, total_steps=args.total_steps,
                  status_every=args.status_every)
    if args.backend == 'ray':
        if args.jobs is not None:
            raise ValueError('--jobs is for --backend local: Ray places the runs by '
                             '--cpus-per-run and --gpus-per-run')
        from synergy_control.training.ray_sweep import sweep_on_ray
        results = sweep_on_ray(args.configs, args.seeds, address=args.address,
                               cpus_per_run=args.cpus_per_run or 1.0,
                               gpus_per_run=args.gpus_per_run or 0.0, **common)
    else:
        given = [f"--{name.replace('_', '-')}" for name in RAY_OPTIONS
                 if getattr(args, name) is not None]
        if given:
            raise ValueError(f"{', '.join(given)}: only with --backend ray")
        from synergy_control.training.sweep import sweep
        results = sweep(args.configs, args.seeds, jobs=args.jobs or os.cpu_count() or 1,
                        **common)
    failed = {name: code for name, code in results.items() if code != 0}
    print(f'{len(results) - len(failed)} of {len(results)} runs ended normally'
          + (f'; failed: {failed}' if failed else ''))
    return 0 if not failed else 2


def cmd_render(args: argparse.Namespace) -> int:
    """Render a policy rollout to MP4 or GIF (MuJoCo offscreen)."""
    from synergy_control.render import render_policy
    frames = render_policy(args.policy, args.out, robot=args.robot, seconds=args.seconds,
                           seed=args.seed, width=args.width, height=args.height,
                           fps=args.fps)
    print(f'wrote {args.out} ({frames} frames)')
    return 0


def chosen_columns(args: argparse.Namespace) -> tuple[str, ...]:
    """Return the columns of ``plot``'s ``--column``s, or ``SPLIT`` for ``--split``."""
    from synergy_control.training.plot import SPLIT
    if args.split and args.column:
        raise ValueError('plot takes --split or --column, not both')
    return SPLIT if args.split else tuple(args.column or ('eval_mean',))


def cmd_plot(args: argparse.Namespace) -> int:
    """Plot learning curves (mean and 95% CI across seeds)."""
    from synergy_control.training.plot import plot_runs
    plot_runs([Path(p) for p in args.runs], Path(args.out), columns=chosen_columns(args))
    print(f'wrote {args.out}')
    return 0


# Command groups the methods fill in: ``synergies`` (discover, show, extract) and ``tasks``
# (interpolate, compose, adapt). Each module listed in METHOD_COMMANDS has
# ``add_commands(groups)``, adding its subcommands to ``groups[name]`` (an argparse
# subparsers object); it imports torch or rclpy only inside its command functions.
COMMAND_GROUPS = {'synergies': 'inspect and extract synergy structures',
                  'tasks': "blend and adapt a multi-task policy's task embeddings"}
METHOD_COMMANDS = ('synergy_control.methods.solar.commands',
                   'synergy_control.methods.sar.commands',
                   'synergy_control.methods.ear.commands')


def add_method_commands(sub: argparse._SubParsersAction) -> None:
    """Add the command groups and every method's subcommands to them."""
    groups = {}
    for name, help_text in COMMAND_GROUPS.items():
        group = sub.add_parser(name, help=help_text)
        groups[name] = group.add_subparsers(dest='subcommand', required=True)
    for module in METHOD_COMMANDS:
        importlib.import_module(module).add_commands(groups)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog='synergy-control', description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', required=True)

    p = sub.add_parser('robots', help='list robot families and variants')
    p.add_argument('--family', help='only this family')
    p.add_argument('--json', action='store_true', help='machine-readable output')
    p.set_defaults(func=cmd_robots)

    p = sub.add_parser('evaluate', help='offline rollouts of an ONNX policy in MuJoCo')
    p.add_argument('--policy', required=True, help='ONNX policy with a policy card')
    p.add_argument('--robot', help="robot variant (default: the card's robot)")
    p.add_argument('--episodes', type=positive_int, default=10)
    p.add_argument('--seed', type=non_negative_int, default=0)
    p.add_argument('--task', help="the environment's task, e.g. vel:4.5 (its reward)")
    p.add_argument('--command', dest='task_command',
                   help="a multi-task policy's task command: a task name, 'FIRST SECOND BETA' "
                   "or '[x, y, z]' (default: from --task)")
    p.add_argument('--world', metavar='VARIANT',
                   help="simulate this variant of the policy's body instead, e.g. a terrain "
                   '(walker_7_stairs for a walker_7_main policy)')
    p.add_argument('--gymnasium', metavar='ENV_ID',
                   help="judge in gymnasium's own environment instead, e.g. Humanoid-v5 "
                   '(its dynamics, reward and, for a flat policy, observation; a modular '
                   "policy's limb tokens are built from its state; --robot: the variant of a "
                   "multi-robot policy; --task/--command: a multi-task policy's command, the "
                   "episode cut at the task's length, the return gymnasium's own)")
    p.add_argument('--json', action='store_true')
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser('export', help='export a policy to ONNX with its policy card')
    p.add_argument('source', nargs='?', help='training run directory or checkpoint file')
    p.add_argument('--out', required=True, help='output .onnx path (card written beside it)')
    p.add_argument('--name', help='policy name for the card (default: file stem)')
    p.add_argument('--robot', help="robot to export for, when the run drives several ('all': "
                   'one graph for every robot)')
    p.add_argument('--default-robot', help="with --robot all: the robot the card runs when "
                   'none is named (default: the first training robot)')
    p.add_argument('--untrained', metavar='ROBOT', help='export a random-weight MLP instead')
    p.add_argument('--obs-mode', default='flat', choices=OBSERVATION_MODES)
    p.add_argument('--seed', type=int, default=0)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser('sim', help='run the simulated robot under a policy (ROS 2 node graph)')
    p.add_argument('--robot', help="robot variant (default: the policy's robot)")
    p.add_argument('--policy', help='ONNX policy (default: the shipped walker policy)')
    p.add_argument('--mode', default='realtime', choices=SIM_MODES)
    p.add_argument('--duration', type=positive_float, default=20.0,
                   help='seconds of simulated time')
    p.add_argument('--realtime-factor', type=positive_float, default=1.0)
    p.add_argument('--seed', type=non_negative_int, default=0)
    p.add_argument('--task', default='', help="multi-task policies: the task, e.g. vel:4.5 "
                   "(the simulator's reward too), or a command such as 'vel:3 vel:5 0.25'")
    p.add_argument('--executor', default='events', choices=EXECUTORS,
                   help="rclpy executor of the nodes ('single_threaded': the classic wait set)")
    p.add_argument('--json', action='store_true', help='print the summary as JSON')
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser('train', help='train a policy from a YAML config')
    p.add_argument('config', nargs='?', help='config/train/*.yaml (omit with --resume)')
    p.add_argument('--device', help="cpu or cuda (default: the config's device)")
    p.add_argument('--resume', metavar='RUN_DIR', help='continue this run')
    p.add_argument('--seed', type=int)
    p.add_argument('--run-dir', help='where to write the run (default: runs/NAME_SEED_TIME)')
    p.add_argument('--total-steps', type=positive_int,
                   help="override the config's budget (with --resume: extend the run)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser('sweep', help='train seeds x configs in parallel, resumable')
    p.add_argument('configs', nargs='+', help='config/train/*.yaml')
    p.add_argument('--seeds', type=non_negative_int, nargs='+', default=[0, 1, 2])
    p.add_argument('--jobs', type=positive_int,
                   help='runs at once, local backend (default: one per CPU core)')
    p.add_argument('--runs-dir', default='runs', help='runs go to RUNS_DIR/<config>_<seed>')
    p.add_argument('--device', help="cpu or cuda (default: each config's)")
    p.add_argument('--total-steps', type=positive_int, help="override every config's budget")
    p.add_argument('--status-every', type=positive_float, default=60.0,
                   help='seconds between status lines')
    p.add_argument('--backend', choices=('local', 'ray'), default='local',
                   help='local: processes on this machine; ray: Ray tasks on a cluster '
                   '(pip install -r requirements/cluster.txt)')
    p.add_argument('--address', metavar='HOST:PORT',
                   help='join the Ray cluster of `ray start --head` (default: a local Ray '
                   'instance on loopback)')
    p.add_argument('--cpus-per-run', type=positive_float,
                   help="CPUs Ray reserves for each run, also its thread count (default 1)")
    p.add_argument('--gpus-per-run', type=non_negative_float,
                   help='GPUs Ray reserves for each run (default 0; > 0 trains on cuda)')
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser('render', help='render a policy rollout to .mp4 or .gif')
    p.add_argument('--policy', required=True)
    p.add_argument('--robot')
    p.add_argument('--out', required=True)
    p.add_argument('--seconds', type=positive_float, default=5.0)
    p.add_argument('--seed', type=non_negative_int, default=0)
    p.add_argument('--width', type=positive_int, default=320)
    p.add_argument('--height', type=positive_int, default=240)
    p.add_argument('--fps', type=positive_float, default=30.0,
                   help='frames per second of the video')
    p.set_defaults(func=cmd_render)

    p = sub.add_parser('plot', help='learning curves of runs, mean and 95%% CI across seeds')
    p.add_argument('runs', nargs='+', help='run directories')
    p.add_argument('--out', required=True)
    p.add_argument('--column', action='append', metavar='COLUMN',
                   help='metrics.csv column to draw, a panel each (repeatable; default '
                   'eval_mean), e.g. eval_zero_shot_mean or eval_mean/walker_3_main')
    p.add_argument('--split', action='store_true',
                   help='training and zero-shot robots side by side (eval_mean and '
                   'eval_zero_shot_mean panels)')
    p.set_defaults(func=cmd_plot)

    add_method_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``synergy-control``."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        # Load, card, config and state errors carry messages meant for the user.
        print(f'synergy-control {args.command}: error: {error}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
