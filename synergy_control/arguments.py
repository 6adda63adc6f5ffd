"""Command-line argument types and output shared by every subcommand (no package imports).

The CLI and the methods' subcommands (``synergies``, ``tasks``) parse numbers with these
types, so a refused value names its option the same way everywhere; the methods import them
here rather than from the CLI that loads them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Callable


def number(kind: Callable[[str], float] = float, minimum: float | None = None, *,
           above: bool = False) -> Callable[[str], float]:
    """Make an argparse type: a finite ``kind`` at least ``minimum`` (above it with ``above``).

    argparse prefixes its error with the option's name, so a refused value names the option
    (``float`` alone accepts 'nan', 'inf' and negative durations).
    """
    bound = '' if minimum is None else f" {'>' if above else '>='} {minimum:g}"
    wanted = f"{'an integer' if kind is int else 'a finite number'}{bound}"

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'must be {wanted}, got {text!r}') from None
        if not math.isfinite(value) or (minimum is not None and (
                value <= minimum if above else value < minimum)):
            raise argparse.ArgumentTypeError(f'must be {wanted}, got {text!r}')
        return value
    return parse


positive_float = number(float, 0, above=True)
positive_int = number(int, 0, above=True)
non_negative_int = number(int, 0)
non_negative_float = number(float, 0)


def print_json(data: object) -> None:
    """Print ``data`` as indented JSON (the ``--json`` output of every command)."""
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write('\n')
