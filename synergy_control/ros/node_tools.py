"""Small pieces both nodes need: declared parameters, steady timers, statistics, main()."""

from __future__ import annotations

import contextlib
import gc
import inspect
import os
import signal
import threading
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import rclpy
from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.context import Context
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.experimental import EventsExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rclpy.subscription import MessageInfo

from synergy_control.launch_plan import EXECUTORS
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


def make_executor(kind: str = 'events', context: Context | None = None) -> Executor:
    """Create an executor of ``kind`` (one of :data:`EXECUTORS`).

    The events executor is the default because rebuilding and waiting on a wait set of all
    ~80 entities of the sim graph (services, QoS event handlers, timers) dominates a lockstep
    step; it needs message-info callbacks wrapped in :class:`MessageInfoCallback`.
    """
    if kind == 'events':
        return EventsExecutor(context=context)
    if kind == 'single_threaded':
        return SingleThreadedExecutor(context=context)
    raise ValueError(f"executor must be one of {EXECUTORS}, got '{kind}'")


class MessageInfoCallback:
    """A subscription callback of (message, MessageInfo) that every rclpy executor can call.

    rclpy passes MessageInfo to callbacks whose signature takes two arguments, but its
    EventsExecutor (rclpy 9, events_executor.cpp) calls them with one (message, info) tuple.
    This wrapper shows rclpy the two-argument signature and accepts both forms of the call.
    """

    __signature__ = inspect.Signature(
        [inspect.Parameter(name, inspect.Parameter.POSITIONAL_ONLY) for name in ('msg', 'info')])

    def __init__(self, callback: Callable[[Any, MessageInfo], None]):
        self._callback = callback

    def __call__(self, *args: Any) -> None:
        """Call the wrapped callback with (message, info)."""
        msg, info = args[0] if len(args) == 1 else args
        self._callback(msg, info)


def percentiles(samples: Iterable[float], points: Sequence[float] = (50, 99)) -> list[float]:
    """Compute percentiles of a sample (NaN for an empty one)."""
    values = np.fromiter(samples, dtype=np.float64)
    if values.size == 0:
        return [float('nan')] * len(points)
    return [float(v) for v in np.percentile(values, points)]


@contextlib.contextmanager
def stop_on_signals(*signums: int) -> Iterator[threading.Event]:
    """Turn the first of ``signums`` into an event that a spin loop checks; another interrupts.

    Raised inside a callback, KeyboardInterrupt would stop a node half way through a step (or
    in a message conversion, where pybind11 turns it into a RuntimeError), and the events
    executor logs it as a fatal callback error; the loop checks the event between callbacks
    instead. A second signal raises KeyboardInterrupt. Only the main thread handles signals:
    elsewhere the event is never set.
    """
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return
    previous = {signum: signal.getsignal(signum) for signum in signums}

    def request_stop(_signum: int, _frame: object) -> None:
        requested.set()
        for signum in signums:
            signal.signal(signum, signal.default_int_handler)

    for signum in signums:
        signal.signal(signum, request_stop)
    try:
        yield requested
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def spin_main(node_factory: Callable[[], Node], args: list[str] | None = None) -> None:
    """Run one node until Ctrl-C, SIGTERM or shutdown, then destroy it and shut rclpy down.

    rclpy's signal handler is left out so that the context is still valid after a signal: a
    node can then still publish its last (safe) message. Signals are handled even where the
    shell started us ignoring SIGINT. ``SYNERGY_CONTROL_EXECUTOR=single_threaded`` falls back
    from rclpy's (experimental) events executor to the classic one.
    """
    ensure_local_dds()
    kind = os.environ.get('SYNERGY_CONTROL_EXECUTOR', 'events')
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    executor = make_executor(kind)
    node = None
    try:
        with stop_on_signals(signal.SIGINT, signal.SIGTERM) as stop:
            node = node_factory()
            executor.add_node(node)
            # Start-up objects (modules, the policy, the node) live as long as the process:
            # freeze them out of full collections, which would stall a tick for tens of ms.
            gc.freeze()
            while rclpy.ok() and not stop.is_set():
                executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
