"""Small pieces both nodes need: declared parameters, steady timers, statistics, main()."""

from __future__ import annotations

import signal
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import rclpy
from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from synergy_control.ros.environment import ensure_local_dds


def declare(node: Node, name: str, default: object, description: str, *,
            choices: Sequence[str] = (), bounds: tuple[float, float] | None = None) -> Any:
    """Declare a read-only parameter with a descriptor; return its value (ValueError if bad).

    Read-only: the nodes read their parameters once, so accepting a change at run time
    would silently do nothing.
    """
    descriptor = ParameterDescriptor(description=description, read_only=True)
    if choices:
        descriptor.additional_constraints = f"one of: {', '.join(choices)}"
    if bounds is not None:
        low, high = bounds
        descriptor.floating_point_range = [FloatingPointRange(from_value=low, to_value=high)]
    value = node.declare_parameter(name, default, descriptor).value
    if choices and value not in choices:
        raise ValueError(f"parameter '{name}' is '{value}', {descriptor.additional_constraints}")
    return value


def steady_clock() -> Clock:
    """Make a clock for timers that tick in wall time even when the node uses /clock."""
    return Clock(clock_type=ClockType.STEADY_TIME)


def percentiles(samples: Iterable[float], points: Sequence[float] = (50, 99)) -> list[float]:
    """Compute percentiles of a sample (NaN for an empty one)."""
    values = np.fromiter(samples, dtype=np.float64)
    if values.size == 0:
        return [float('nan')] * len(points)
    return [float(v) for v in np.percentile(values, points)]


def spin_main(node_factory: Callable[[], Node], args: list[str] | None = None) -> None:
    """Run one node until Ctrl-C or shutdown, then destroy it and shut rclpy down.

    rclpy's signal handler is left out so that Ctrl-C (and SIGTERM) arrive as
    KeyboardInterrupt while the context is still valid: a node can then still publish its
    last (safe) message. They are handled even where the shell started us ignoring SIGINT.
    """
    ensure_local_dds()
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    node = None
    try:
        node = node_factory()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
