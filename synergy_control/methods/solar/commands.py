"""``synergy-control synergies show`` and ``timeline``: synergies drawn on a body, over training.

``show`` prints a robot's synergies as a table and draws them on its body; ``timeline`` draws
how a SOLAR run's clusters evolved beside its return curve (``methods/solar/timeline.py``).

``show``'s structure comes from a policy's card (the variant of the robot, for a policy that serves
several) or, without a policy, from affinity propagation over the robot's limb graph alone
(SOLAR's discovery without its value preference, which needs a critic). Torch-free.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def find_structure(robot: str | None, policy: str | None, seed: int = 0) -> tuple:
    """Return (robot, structure, where it came from) for ``synergies show``.

    ValueError names what is missing: no robot, a robot the policy does not serve, or a
    policy whose card has no actuator labels.
    """
    from synergy_control.robots import get_robot
    if policy is None:
        if robot is None:
            raise ValueError('synergies show needs --robot or --policy')
        from synergy_control.methods.solar.synergies import discover
        variant = get_robot(robot)
        found = discover(variant.hop_distances, seed=seed)
        return (variant, found.structure, 'affinity propagation over the limb graph (no value '
                f'preference), seed {seed}, converged {found.converged}')
    from synergy_control.card import CardError
    from synergy_control.runtime import read_card
    card = read_card(policy)
    try:
        single = card.variant(robot or card.robot)
    except CardError as error:
        raise ValueError(str(error)) from error
    if single.variants is None and single.robot != (robot or card.robot):
        raise ValueError(f"policy {policy} is for robot '{card.robot}', not '{robot}'")
    structure = single.structure()
    if structure is None:
        raise ValueError(f"policy {policy} has no synergy labels for robot '{single.robot}' "
                         f"(synergy method: {(single.synergy or {}).get('method')})")
    return get_robot(single.robot), structure, f"policy {policy} ({single.synergy['method']})"


def robot_names(robot: str | None) -> list[str | None]:
    """Return the robots of ``--robot``: one, or each variant of a morphology set (walker++)."""
    from synergy_control.robots import FAMILIES, MORPHOLOGY_SETS
    if robot in MORPHOLOGY_SETS:
        return [variant.name for variant in FAMILIES[MORPHOLOGY_SETS[robot]].variants]
    return [robot]


def cmd_show(args: argparse.Namespace) -> int:
    """Print the clusters of a robot (or of each robot of a set) and draw them on the body.

    For a set, the picture has one panel per robot, left to right in the set's order.
    """
    from synergy_control.methods.solar.show import describe, render, write_image
    shown = [find_structure(name, args.policy, args.seed) for name in robot_names(args.robot)]
    if args.json:
        json.dump([{'robot': robot.name, 'source': source, 'count': structure.count,
                    'labels': list(structure.labels), 'centres': list(structure.centres)}
                   for robot, structure, source in shown], sys.stdout, indent=2)
        print()
    else:
        for robot, structure, source in shown:
            print(f'{describe(robot, structure)}\n  from {source}')
    if args.out:
        image = np.hstack([render(robot, structure, width=args.width, height=args.height)
                           for robot, structure, _ in shown])
        print(f'wrote {write_image(image, args.out)}', file=sys.stderr if args.json
              else sys.stdout)
    return 0


def cmd_timeline(args: argparse.Namespace) -> int:
    """Draw a SOLAR run's cluster timeline beside its return curve."""
    from synergy_control.methods.solar.timeline import plot_timeline
    print(f'wrote {plot_timeline(args.run, args.out)}')
    return 0


def add_commands(groups: dict[str, argparse._SubParsersAction]) -> None:
    """Add ``synergies show`` and ``synergies timeline``."""
    from synergy_control.arguments import non_negative_int, positive_int
    p = groups['synergies'].add_parser(
        'show', help="print a robot's synergies and draw them on its body (SOLAR)")
    p.add_argument('--robot', help="robot variant, or a morphology set such as walker++ (each "
                   "variant; default: the policy's robot)")
    p.add_argument('--policy', help="exported policy whose card holds the robot's synergies "
                   '(default: discover them from the limb graph)')
    p.add_argument('--out', help='picture of the body coloured by synergy (PNG)')
    p.add_argument('--width', type=positive_int, default=480, help='pixels per robot')
    p.add_argument('--height', type=positive_int, default=360)
    p.add_argument('--seed', type=non_negative_int, default=0,
                   help='seed of the discovery without a policy')
    p.add_argument('--json', action='store_true')
    p.set_defaults(func=cmd_show)

    p = groups['synergies'].add_parser(
        'timeline', help="a SOLAR run's synergies over training, beside its return curve")
    p.add_argument('run', help='run directory (its synergy_history.json and metrics.csv)')
    p.add_argument('--out', required=True, help='picture (PNG)')
    p.set_defaults(func=cmd_timeline)
