"""``synergy-control synergies extract``: a play policy's rollouts → SAR synergy basis file."""

from __future__ import annotations

import argparse
from pathlib import Path

from synergy_control.methods.sar.basis import SynergyBasis


def extract(policy: str | Path, robot: str | None, out: str | Path, *, episodes: int = 100,
            percentile: float = 80.0, count: int | None = None, vaf: float = 0.8,
            seed: int = 0, stochastic: bool = True, noise: float = 0.0,
            max_steps: int | None = None, plot: str | Path | None = None,
            check: int = 0) -> SynergyBasis:
    """Record, keep the episodes at or above the return ``percentile``, fit, write ``out``.

    The basis file is the card's ``synergy`` section; its ``fit`` says where the data came
    from (robot, policy, episodes kept, return threshold) and how well the basis fits;
    ``check`` > 0 adds the policy's mean return over that many episodes as it is and acting
    through the basis (:func:`projected_returns`).
    """
    from synergy_control.methods.sar.basis import fit_basis, variance_accounted_for
    from synergy_control.methods.sar.record import projected_returns, record
    recording = record(policy, robot, episodes, seed, stochastic=stochastic, noise=noise,
                       max_steps=max_steps)
    samples = recording.samples(percentile)
    basis = fit_basis(samples, count, vaf_threshold=vaf, seed=seed)
    basis.fit.update(recording.summary(percentile))
    if count is not None:
        basis.fit['vaf_threshold'] = None  # the count was given, not chosen by VAF
    if check:
        direct, projected = projected_returns(policy, basis, recording.robot, check, seed)
        basis.fit.update(check_episodes=check, check_return=float(direct.mean()),
                         check_return_projected=float(projected.mean()))
    basis.save(out)
    if plot is not None:
        from synergy_control.methods.sar.plots import plot_vaf
        plot_vaf(variance_accounted_for(samples), basis.count, basis.fit['vaf_threshold'],
                 plot, title=f'{recording.robot}: {basis.count} synergies')
    return basis


def cmd_extract(args: argparse.Namespace) -> int:
    """Extract a synergy basis and report its size and fit."""
    basis = extract(args.policy, args.robot, args.out, episodes=args.episodes,
                    percentile=args.percentile, count=args.count, vaf=args.vaf,
                    seed=args.seed, stochastic=not args.deterministic, noise=args.noise,
                    max_steps=args.max_steps, plot=args.plot, check=args.check)
    fit = basis.fit
    print(f"wrote {args.out}: {basis.count} synergies of {fit['actuators']} actuators "
          f"(VAF {fit['vaf_of_basis']:.3f}, reconstruction RMSE "
          f"{fit['reconstruction_rmse']:.3f}) from {fit['episodes_kept']}/{fit['episodes']} "
          f"episodes of {fit['robot']} with return >= {fit['return_threshold']:.1f} "
          f"({fit['samples']} samples)" + (f'; VAF plot {args.plot}' if args.plot else ''))
    if args.check:
        print(f"the policy's return {fit['check_return']:.1f}, through the basis "
              f"{fit['check_return_projected']:.1f} (mean of {args.check} episodes)")
    return 0


def cmd_loadings(args: argparse.Namespace) -> int:
    """Draw a basis file's loadings (and the pose sweep along each synergy)."""
    from synergy_control.methods.sar.plots import plot_loadings, plot_sweep
    from synergy_control.robots import get_robot
    basis = SynergyBasis.load(args.basis)
    robot = get_robot(args.robot or basis.fit.get('robot') or '')
    if robot.model.nu != basis.matrix.shape[1]:
        raise ValueError(f'synergy basis file {args.basis} decodes to {basis.matrix.shape[1]} '
                         f'actuators, robot {robot.name} has {robot.model.nu}')
    title = f'{robot.name}: {basis.count} synergies'
    plot_loadings(basis, robot.actuator_names, args.out, title)
    if args.sweep:
        plot_sweep(robot, basis, args.sweep)
    print(f'wrote {args.out}' + (f' and {args.sweep}' if args.sweep else ''))
    return 0


def cmd_efficiency(args: argparse.Namespace) -> int:
    """Compare SAR-RL with end-to-end runs: steps to end-to-end's final return."""
    import json
    from synergy_control.methods.sar.efficiency import compare, plot_comparison
    result = compare(args.sar, args.baseline, args.play_steps, args.final_evals)
    if args.out:
        plot_comparison(args.sar, args.baseline, args.play_steps, result['target_return'],
                        args.out, args.title)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"target: end-to-end's final return {result['target_return']:.1f} (last "
          f"{args.final_evals} evaluations, {len(args.baseline)} runs)")
    for name, label in (('end_to_end', 'end-to-end'), ('sar', 'SAR-RL (with play)')):
        row = result[name]
        spread = '' if row['final_return_ci95'] is None else f" ± {row['final_return_ci95']:.1f}"
        seeds = ('' if row['steps_to_target_mean'] is None else
                 f"; seed mean {row['steps_to_target_mean']:.0f}"
                 + ('' if row['steps_to_target_ci95'] is None
                    else f" ± {row['steps_to_target_ci95']:.0f}"))
        print(f"  {label}: reaches it at {row['steps_to_target']} steps (per seed "
              f"{row['steps_to_target_per_seed']}{seeds}), final "
              f"{row['final_return']:.1f}{spread} at {row['last_step']}")
    if result['ratio'] is not None:
        print(f"  SAR-RL needs {100 * result['ratio']:.0f}% of end-to-end's steps")
    return 0


def fraction(text: str) -> float:
    """Parse a VAF threshold in (0, 1] (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = float('nan')
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f'must be in (0, 1], got {text!r}')
    return value


def percent(text: str) -> float:
    """Parse a percentile in [0, 100] (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = float('nan')
    if not 0.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError(f'must be in [0, 100], got {text!r}')
    return value


def add_commands(groups: dict[str, argparse._SubParsersAction]) -> None:
    """Add ``synergies extract``."""
    from synergy_control.arguments import non_negative_int, number, positive_int
    p = groups['synergies'].add_parser(
        'extract', help="SAR: fit a synergy basis (PCA -> FastICA -> [-1, 1]) to a policy's "
        'actuator activations')
    p.add_argument('--policy', required=True,
                   help='the play policy: an .onnx file, a checkpoint or a run directory')
    p.add_argument('--robot', help="robot variant (default: the policy's)")
    p.add_argument('--out', required=True, help='basis file to write (YAML)')
    p.add_argument('--episodes', type=positive_int, default=100)
    p.add_argument('--percentile', type=percent, default=80.0,
                   help='keep episodes with a return at or above this percentile (default 80)')
    size = p.add_mutually_exclusive_group()
    size.add_argument('--count', type=positive_int, help='number of synergies')
    size.add_argument('--vaf', type=fraction, default=0.8,
                      help='fewest synergies whose VAF exceeds this (default 0.8)')
    p.add_argument('--seed', type=non_negative_int, default=0)
    p.add_argument('--deterministic', action='store_true',
                   help="a checkpoint's mean action instead of samples")
    p.add_argument('--noise', type=number(float, 0), default=0.0,
                   help="std of Gaussian noise on an ONNX policy's action (default 0)")
    p.add_argument('--max-steps', type=positive_int, help='cut episodes at this many steps')
    p.add_argument('--plot', help='write the VAF curve here (PNG)')
    p.add_argument('--check', type=non_negative_int, default=0, metavar='EPISODES',
                   help="also roll the policy out acting through the basis (its actions "
                   'projected onto the synergies) and record both mean returns')
    p.set_defaults(func=cmd_extract)

    p = groups['synergies'].add_parser(
        'loadings', help="SAR: draw a basis file's actuator loadings and a pose sweep along "
        'each synergy')
    p.add_argument('--basis', required=True, help='basis file of `synergies extract`')
    p.add_argument('--robot', help="robot variant (default: the basis's)")
    p.add_argument('--out', required=True, help='loadings heat map (PNG)')
    p.add_argument('--sweep', help='pose sweep along each synergy (PNG, renders offscreen)')
    p.set_defaults(func=cmd_loadings)

    p = groups['synergies'].add_parser(
        'efficiency', help="SAR: steps SAR-RL (play included) and end-to-end runs need to "
        "reach end-to-end's final return")
    p.add_argument('--sar', nargs='+', required=True, help='SAR-RL run directories (seeds)')
    p.add_argument('--baseline', nargs='+', required=True,
                   help='end-to-end run directories (seeds)')
    p.add_argument('--play-steps', type=non_negative_int, required=True,
                   help="the play policy's environment steps, added to SAR-RL's")
    p.add_argument('--final-evals', type=positive_int, default=3,
                   help="evaluations averaged for end-to-end's final return (default 3)")
    p.add_argument('--out', help='learning curves against total steps (PNG)')
    p.add_argument('--title', default='', help="the picture's title")
    p.add_argument('--json', action='store_true')
    p.set_defaults(func=cmd_efficiency)
