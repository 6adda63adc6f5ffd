"""Small pieces both nodes need: declared parameters, steady timers, statistics, main()."""

from __future__ import annotations

import contextlib
import gc
import inspect
import os
import signal
import sys
import threading
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import rclpy
from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.context import Context
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.experimental import EventsExecutor
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rclpy.subscription import MessageInfo

from synergy_control.ros.environment import ensure_local_dds
from synergy_control.ros.launch_plan import EXECUTORS


class ParameterError(ValueError):
    """A node parameter the node cannot run with; the message names it and what it accepts."""


def declare(node: Node, name: str, default: object, description: str, *,
            choices: Sequence[str] = (), bounds: tuple[float, float] | None = None) -> Any:
    """Declare a read-only parameter with a descriptor; return its value.

    Read-only: the nodes read their parameters once, so accepting a change at run time
    would silently do nothing. A value of the wrong type, out of ``bounds`` or not among
    ``choices`` raises ParameterError naming the parameter.
    """
    descriptor = ParameterDescriptor(description=description, read_only=True)
    if choices:
        descriptor.additional_constraints = f"one of: {', '.join(c or repr(c) for c in choices)}"
    if bounds is not None:
        low, high = bounds
        descriptor.floating_point_range = [FloatingPointRange(from_value=low, to_value=high)]
    try:
        value = node.declare_parameter(name, default, descriptor).value
    except InvalidParameterTypeException:
        raise ParameterError(f"parameter '{name}' must be a {type(default).__name__} "
                             f'(e.g. {name}:={default!r})') from None
    except InvalidParameterValueException:
        raise ParameterError(f"parameter '{name}' must be in [{low}, {high}]") from None
    if choices and value not in choices:
        raise ParameterError(f"parameter '{name}' is '{value}', "
                             f'{descriptor.additional_constraints}')
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


def publisher_names(node: Node, topic: str) -> list[str]:
    """Return the fully qualified names of the nodes publishing on ``topic`` (resolved).

    A second publisher on a command topic is a wiring fault (two controllers, a stray
    ``ros2 topic pub``) that both nodes report in their diagnostics.
    """
    return sorted(f"{info.node_namespace.rstrip('/')}/{info.node_name}"
                  for info in node.get_publishers_info_by_topic(topic))


#: Per-tick samples kept for summaries.
SAMPLES = 100_000


class TickSamples:
    """Per-tick measurements, kept for summaries and for periodic diagnostics.

    Summaries read the newest ``capacity``, diagnostics those since the last
    :meth:`take_recent`: percentiles over a long run take milliseconds, which a diagnostics
    timer must not spend between two control ticks; one period holds a few hundred samples.
    """

    def __init__(self, capacity: int = SAMPLES):
        self.all: deque[float] = deque(maxlen=capacity)
        self._recent: list[float] = []

    def append(self, value: float) -> None:
        """Record one tick's value."""
        self.all.append(value)
        self._recent.append(value)

    def take_recent(self) -> list[float]:
        """Return the values since the last call (and start a new period)."""
        recent, self._recent = self._recent, []
        return recent


@contextlib.contextmanager
def stop_on_signals(*signums: int, final: bool = False) -> Iterator[threading.Event]:
    """Turn the first of ``signums`` into an event that a spin loop checks.

    Raised inside a callback, KeyboardInterrupt would stop a node half way through a step (or
    in a message conversion, where pybind11 turns it into a RuntimeError), and the events
    executor logs it as a fatal callback error; the loop checks the event between callbacks
    instead. A repeated signal raises KeyboardInterrupt, unless the block is the ``final``
    act of a process: then repeated signals are ignored, during the block and after it (only
    the interpreter's exit follows), because a node's own shutdown is bounded and a
    supervisor that signals the whole process group and then the node itself (``ros2
    launch`` on Ctrl-C) must not turn a clean exit into a KeyboardInterrupt. Only the main
    thread handles signals: elsewhere the event is never set.
    """
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return
    previous = {signum: signal.getsignal(signum) for signum in signums}

    def request_stop(_signum: int, _frame: object) -> None:
        requested.set()
        if not final:
            for signum in signums:
                signal.signal(signum, signal.default_int_handler)

    for signum in signums:
        signal.signal(signum, request_stop)
    try:
        yield requested
    finally:
        for signum, handler in previous.items():
            if final:
                handler = signal.SIG_IGN
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def spin_main(node_factory: Callable[[], Node], args: list[str] | None = None) -> None:
    """Run one node until Ctrl-C, SIGTERM or shutdown, then destroy it and shut rclpy down.

    rclpy's signal handler is left out so that the context is still valid after a signal: a
    node can then still publish its last (safe) message. Signals are handled even where the
    shell started us ignoring SIGINT, and through the shutdown: repeated ones are ignored, so
    the process ends with exit code 0. A bad parameter is one logged line and exit code 2.
    ``SYNERGY_CONTROL_EXECUTOR=single_threaded`` falls back from rclpy's (experimental)
    events executor to the classic one.
    """
    ensure_local_dds()
    kind = os.environ.get('SYNERGY_CONTROL_EXECUTOR', 'events')
    with stop_on_signals(signal.SIGINT, signal.SIGTERM, final=True) as stop:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
        executor = make_executor(kind)
        node = None
        try:
            node = node_factory()
            executor.add_node(node)
            # Start-up objects (modules, the policy, the node) live as long as the process:
            # freeze them out of full collections, which would stall a tick for tens of ms.
            gc.freeze()
            while rclpy.ok() and not stop.is_set():
                executor.spin_once(timeout_sec=0.1)
        except ParameterError as error:
            get_logger(Path(sys.argv[0]).stem).fatal(str(error))
            raise SystemExit(2) from None
        except ExternalShutdownException:
            pass
        finally:
            executor.shutdown()
            if node is not None:
                node.destroy_node()
            rclpy.try_shutdown()
