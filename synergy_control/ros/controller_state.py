"""The controller's safety logic as plain state: lockstep gate, watchdog, diagnostics (no rclpy).

The node (:mod:`synergy_control.ros.synergy_controller`) adapts these to ROS: it reads its
parameters, owns the publishers, subscriptions and timers, and asks these classes what to
send and what to report. Kept free of rclpy so that each safety rule runs and is tested on
its own, with the clock and the message stamps passed in:

* :class:`LockstepGate`: answer each (joint state, odometry) pair of one stamp exactly once;
* :class:`Watchdog`: a valid state at most ``timeout`` old, or the safe command;
* :class:`SafeCommand`: zero inside the card's limits, or the last policy command while fresh;
* :class:`ControlDiagnostics`: the counters and the level of each /diagnostics report.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

#: Counters that are faults (reported in diagnostics and in the sim summary).
FAULTS = ('invalid_states', 'non_finite_outputs', 'watchdog_trips')
#: Every counter of the controller: commands sent (policy or safe) and the faults.
COUNTERS = ('commands', 'policy_commands', 'safe_commands', *FAULTS)
#: Watchdog checks per watchdog_timeout: the safe command starts at most this fraction of the
#: timeout late.
WATCHDOG_CHECKS = 5


class LockstepGate:
    """Answer each new (joint state, odometry) pair of one stamp exactly once.

    A lockstep simulation waits for the answer to the state it published; a second answer to
    the same stamp would be taken for the answer to the next one, and an answer that nobody
    receives would leave it waiting for a state already answered.
    """

    def __init__(self) -> None:
        self.answered: int | None = None

    def reset(self) -> None:
        """Forget the answered stamp (a new activation: a new state stream)."""
        self.answered = None

    def admit(self, joint_stamp: int | None, odometry_stamp: int | None,
              has_receiver: Callable[[], bool]) -> bool:
        """Return whether to answer now, and if so take the stamp as answered.

        Stamps in ns (None: no message of that kind yet). ``has_receiver`` is asked last,
        and only for a new pair (asking the middleware costs a call per message).
        """
        if joint_stamp is None or odometry_stamp is None:
            return False
        if joint_stamp != odometry_stamp or joint_stamp == self.answered:
            return False
        if not has_receiver():
            return False
        self.answered = joint_stamp
        return True


class WatchdogCheck(enum.Enum):
    """What one watchdog check asks of the node."""

    QUIET = 'quiet'  #: states are fresh (or none came yet): send nothing
    TRIP = 'trip'  #: states just stopped: count a trip, log it, send the safe command
    STALE = 'stale'  #: states are still stopped: send the safe command again


class Watchdog:
    """A steady-clock watchdog over the valid states, armed by the first one.

    Times are ``time.monotonic()`` seconds, passed in. Before the first valid state nothing
    is sent (a lockstep simulation would take it for an answer), but :attr:`starved` tells
    diagnostics once no valid state came within the timeout of the start.
    """

    def __init__(self, timeout: float, now: float):
        self.timeout = timeout
        self.restart(now)

    def restart(self, now: float) -> None:
        """Disarm and start waiting for a first valid state (an activation)."""
        self.last_valid = -math.inf
        self.started = now
        self.tripped = False
        self.starved = False

    def valid_state(self, received: float) -> None:
        """Record a valid state received at ``received`` (the older of its two messages)."""
        self.last_valid = received

    def fresh(self, received: float, now: float) -> bool:
        """Whether a message received at ``received`` is at most ``timeout`` old."""
        return now - received <= self.timeout

    def check(self, now: float) -> WatchdogCheck:
        """Return what the node must send now; called ``WATCHDOG_CHECKS`` times per timeout."""
        armed = math.isfinite(self.last_valid)
        stale = armed and not self.fresh(self.last_valid, now)
        verdict = (WatchdogCheck.QUIET if not stale
                   else WatchdogCheck.STALE if self.tripped else WatchdogCheck.TRIP)
        self.tripped = stale
        self.starved = not armed and now - self.started > self.timeout
        return verdict


class SafeCommand:
    """The command sent instead of the policy's: zero, or (hold mode) the last one held.

    Zero effort clipped into the card's limits, as every runtime command is. A held command
    is sent while it and the last valid state are at most the watchdog's timeout old, so the
    hold ends when the watchdog trips, not a timeout later.
    """

    def __init__(self, low: np.ndarray, high: np.ndarray, hold_mode: str, watchdog: Watchdog):
        self.zero = np.minimum(np.maximum(np.zeros(np.shape(low)), low), high)
        self.hold_mode = hold_mode
        self.watchdog = watchdog
        self.forget()

    def forget(self) -> None:
        """Drop the held command (a new activation)."""
        self._held: np.ndarray | None = None
        self._held_at = -math.inf

    def remember(self, command: np.ndarray, now: float) -> None:
        """Keep the newest policy command, sent at ``now``."""
        self._held, self._held_at = command, now

    def choose(self, now: float) -> np.ndarray:
        """Return the safe command to send at ``now``."""
        watchdog = self.watchdog
        if (self.hold_mode == 'hold' and self._held is not None
                and watchdog.fresh(self._held_at, now)
                and watchdog.fresh(watchdog.last_valid, now)):
            return self._held
        return self.zero


class Level(enum.Enum):
    """A /diagnostics level (the node sends ``DiagnosticStatus.<name>``)."""

    OK = 'ok'
    WARN = 'warn'
    ERROR = 'error'


@dataclass(frozen=True)
class DiagnosticsReport:
    """One /diagnostics report of the controller: its level, message and loop rate."""

    level: Level
    message: str
    loop_rate_hz: float


class ControlDiagnostics:
    """The controller's counters, and the level of each periodic report.

    ERROR while unconfigured (with the reason the configuration failed), WARN while a fault
    counter rose since the previous report, the watchdog is tripped, no valid state came, or
    another node publishes on the command topic; else OK.
    """

    def __init__(self, now: float):
        self.counters = dict.fromkeys(COUNTERS, 0)
        self._window = (now, dict(self.counters))

    def count(self, counter: str) -> None:
        """Add one to ``counter`` (one of :data:`COUNTERS`)."""
        self.counters[counter] += 1

    def count_command(self, policy: bool) -> None:
        """Count one command sent: the policy's, or a safe one."""
        self.count('commands')
        self.count('policy_commands' if policy else 'safe_commands')

    def report(self, now: float, lifecycle_state: str, watchdog: Watchdog, *,
               configured: bool, last_error: str = '', command_topic: str = '',
               publishers: Sequence[str] = ()) -> DiagnosticsReport:
        """Level, message and loop rate since the previous report; starts the next window.

        ``publishers``: the nodes publishing on ``command_topic`` (this one included).
        """
        since, counters_then = self._window
        self._window = (now, dict(self.counters))
        new_faults = {k: self.counters[k] - counters_then[k] for k in FAULTS
                      if self.counters[k] > counters_then[k]}
        if not configured:
            level, message = Level.ERROR, last_error or 'not configured'
        elif new_faults or watchdog.tripped or watchdog.starved or len(publishers) > 1:
            level = Level.WARN
            problems = [f'{v} {k}' for k, v in new_faults.items()]
            if len(publishers) > 1:
                problems.append(f'{len(publishers)} publishers on {command_topic}: '
                                f'{list(publishers)}')
            message = (', '.join(problems)
                       or ('watchdog' if watchdog.tripped else 'no valid (paired) state received'))
        else:
            level, message = Level.OK, lifecycle_state
        rate = (self.counters['commands'] - counters_then['commands']) / max(now - since, 1e-9)
        return DiagnosticsReport(level, message, rate)
