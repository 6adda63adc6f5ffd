"""``synergy-control synergies show``: a robot's synergies as a table and a picture.

The structure comes from a policy's card (the variant of the robot, for a policy that serves
several) or, without a policy, from affinity propagation over the robot's limb graph alone
(SOLAR's discovery without its value preference, which needs a critic). Torch-free.
"""

from __future__ import annotations

import argparse
import json
import sys


def find_structure(robot: str | None, policy: str | None, seed: int = 0) -> tuple:
    """Return (robot, structure, where it came from) for ``synergies show``.

    ValueError names what is missing: no robot, a robot the policy does not serve, or a
    policy whose card has no actuator labels.
    """
    from synergy_control.methods.solar.show import structure_of
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
    structure = structure_of(single.synergy)
    if structure is None:
        raise ValueError(f"policy {policy} has no synergy labels for robot '{single.robot}' "
                         f"(synergy method: {(single.synergy or {}).get('method')})")
    return get_robot(single.robot), structure, f"policy {policy} ({single.synergy['method']})"


def cmd_show(args: argparse.Namespace) -> int:
    """Print the clusters of a robot and draw them on its body."""
    from synergy_control.methods.solar.show import describe, draw
    robot, structure, source = find_structure(args.robot, args.policy, args.seed)
    if args.json:
        json.dump({'robot': robot.name, 'source': source, 'count': structure.count,
                   'labels': list(structure.labels), 'centres': list(structure.centres)},
                  sys.stdout, indent=2)
        print()
    else:
        print(f'{describe(robot, structure)}\n  from {source}')
    if args.out:
        print(f'wrote {draw(robot, structure, args.out)}', file=sys.stderr if args.json
              else sys.stdout)
    return 0


def add_commands(groups: dict[str, argparse._SubParsersAction]) -> None:
    """Add ``synergies show``."""
    from synergy_control.cli import non_negative_int
    p = groups['synergies'].add_parser(
        'show', help="print a robot's synergies and draw them on its body (SOLAR)")
    p.add_argument('--robot', help="robot variant (default: the policy's)")
    p.add_argument('--policy', help="exported policy whose card holds the robot's synergies "
                   '(default: discover them from the limb graph)')
    p.add_argument('--out', help='picture of the body coloured by synergy (PNG)')
    p.add_argument('--seed', type=non_negative_int, default=0,
                   help='seed of the discovery without a policy')
    p.add_argument('--json', action='store_true')
    p.set_defaults(func=cmd_show)
