"""The controller's safety logic on its own: lockstep gate, watchdog, safe command, diagnostics.

Plain classes, no node and no DDS: times and stamps are passed in, so each rule is checked at
its boundaries. The ROS tests (test_bad_input.py, test_closed_loop.py) check the same rules
through a running node.
"""

from __future__ import annotations

import numpy as np
import pytest

from synergy_control.ros.controller_state import (COUNTERS, FAULTS, ControlDiagnostics, Level,
                                                  LockstepGate, SafeCommand, Watchdog,
                                                  WatchdogCheck)

TIMEOUT = 0.5


class Receiver:
    """A command subscriber that may not have matched yet; counts how often it was asked."""

    def __init__(self, matched: bool = True):
        self.matched = matched
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.matched


# ---------------------------------------------------------------------- lockstep gate
def test_gate_answers_a_pair_only_when_both_messages_carry_its_stamp():
    gate, receiver = LockstepGate(), Receiver()
    assert not gate.admit(None, None, receiver)
    assert not gate.admit(100, None, receiver)  # joint state first, odometry not yet
    assert not gate.admit(None, 100, receiver)
    assert not gate.admit(200, 100, receiver)  # odometry of the previous state
    assert receiver.asked == 0  # the middleware is asked only for a new pair
    assert gate.admit(200, 200, receiver)
    assert gate.answered == 200


def test_gate_answers_each_stamp_once():
    gate, receiver = LockstepGate(), Receiver()
    assert gate.admit(100, 100, receiver)
    assert not gate.admit(100, 100, receiver)  # the odometry of the same state arrives second
    assert receiver.asked == 1
    assert gate.admit(200, 200, receiver)


def test_gate_waits_for_a_receiver_without_consuming_the_stamp():
    gate, receiver = LockstepGate(), Receiver(matched=False)
    assert not gate.admit(100, 100, receiver)
    assert gate.answered is None
    receiver.matched = True  # the simulator's subscription matched: the same pair is answered
    assert gate.admit(100, 100, receiver)


def test_gate_reset_answers_a_new_stream_from_its_first_stamp():
    gate, receiver = LockstepGate(), Receiver()
    assert gate.admit(0, 0, receiver)
    gate.reset()  # reactivated: the simulator was reset, its clock starts again
    assert gate.admit(0, 0, receiver)


# ---------------------------------------------------------------------- watchdog
def test_watchdog_is_quiet_before_the_first_valid_state_but_reports_starving():
    watchdog = Watchdog(TIMEOUT, now=10.0)
    assert watchdog.check(10.0 + TIMEOUT) is WatchdogCheck.QUIET
    assert not watchdog.starved  # exactly the timeout: not yet
    assert watchdog.check(10.0 + 3 * TIMEOUT) is WatchdogCheck.QUIET  # nothing sent, ever
    assert watchdog.starved and not watchdog.tripped
    watchdog.valid_state(12.0)
    assert watchdog.check(12.1) is WatchdogCheck.QUIET
    assert not watchdog.starved


def test_watchdog_trips_once_when_states_stop_and_repeats_the_safe_command():
    watchdog = Watchdog(TIMEOUT, now=0.0)
    watchdog.valid_state(1.0)
    assert watchdog.check(1.0 + TIMEOUT) is WatchdogCheck.QUIET  # at most the timeout: fresh
    assert not watchdog.tripped
    assert watchdog.check(1.0 + TIMEOUT + 1e-6) is WatchdogCheck.TRIP
    assert watchdog.tripped
    assert watchdog.check(2.0) is WatchdogCheck.STALE  # still stopped: safe, not a new trip
    assert watchdog.check(3.0) is WatchdogCheck.STALE
    watchdog.valid_state(3.1)  # states came back
    assert watchdog.check(3.2) is WatchdogCheck.QUIET
    assert not watchdog.tripped
    assert watchdog.check(3.1 + TIMEOUT + 0.1) is WatchdogCheck.TRIP  # a second stop: a trip


def test_watchdog_restart_disarms_it():
    watchdog = Watchdog(TIMEOUT, now=0.0)
    watchdog.valid_state(1.0)
    assert watchdog.check(5.0) is WatchdogCheck.TRIP
    watchdog.restart(5.0)  # reactivated: wait for a first state again, send nothing
    assert not watchdog.tripped
    assert watchdog.check(5.1) is WatchdogCheck.QUIET
    assert watchdog.check(5.0 + 2 * TIMEOUT) is WatchdogCheck.QUIET
    assert watchdog.starved


@pytest.mark.parametrize('received, now, fresh', [(1.0, 1.0 + TIMEOUT, True),
                                                  (1.0, 1.0 + TIMEOUT + 1e-6, False),
                                                  (-np.inf, 0.0, False)])
def test_watchdog_freshness_is_at_most_the_timeout(received, now, fresh):
    assert Watchdog(TIMEOUT, now=0.0).fresh(received, now) is fresh


# ---------------------------------------------------------------------- safe command
LOW, HIGH = np.array([-1.0, 0.5, -3.0]), np.array([1.0, 2.0, -0.5])


def test_safe_zero_lies_inside_the_command_limits():
    safe = SafeCommand(LOW, HIGH, 'zero', Watchdog(TIMEOUT, now=0.0))
    np.testing.assert_array_equal(safe.zero, [0.0, 0.5, -0.5])
    assert np.all((LOW <= safe.zero) & (safe.zero <= HIGH))


def test_zero_mode_never_holds():
    watchdog = Watchdog(TIMEOUT, now=0.0)
    safe = SafeCommand(LOW, HIGH, 'zero', watchdog)
    watchdog.valid_state(1.0)
    safe.remember(np.array([0.9, 1.9, -0.6]), 1.0)
    np.testing.assert_array_equal(safe.choose(1.1), safe.zero)


def test_hold_ends_when_the_command_or_the_last_valid_state_is_older_than_the_timeout():
    watchdog = Watchdog(TIMEOUT, now=0.0)
    safe = SafeCommand(LOW, HIGH, 'hold', watchdog)
    held = np.array([0.9, 1.9, -0.6])
    np.testing.assert_array_equal(safe.choose(0.1), safe.zero)  # nothing to hold yet
    watchdog.valid_state(1.0)
    safe.remember(held, 1.0)
    np.testing.assert_array_equal(safe.choose(1.0 + TIMEOUT), held)
    np.testing.assert_array_equal(safe.choose(1.0 + TIMEOUT + 1e-6), safe.zero)
    safe.remember(held, 1.4)  # a newer command, but the state it answered is the old one
    np.testing.assert_array_equal(safe.choose(1.0 + TIMEOUT + 1e-6), safe.zero)
    watchdog.valid_state(1.4)
    np.testing.assert_array_equal(safe.choose(1.0 + TIMEOUT + 1e-6), held)
    watchdog.valid_state(1.8)  # valid states, but no policy command since (disabled, NaN)
    np.testing.assert_array_equal(safe.choose(1.4 + TIMEOUT + 1e-6), safe.zero)
    safe.forget()  # reactivated: nothing is held over
    np.testing.assert_array_equal(safe.choose(1.5), safe.zero)


# ---------------------------------------------------------------------- diagnostics
def report(diagnostics: ControlDiagnostics, now: float, watchdog: Watchdog, **kwargs):
    kwargs.setdefault('configured', True)
    return diagnostics.report(now, 'active', watchdog, command_topic='/commands', **kwargs)


def test_diagnostics_error_while_unconfigured_names_the_reason():
    diagnostics, watchdog = ControlDiagnostics(0.0), Watchdog(TIMEOUT, now=0.0)
    result = diagnostics.report(1.0, 'unconfigured', watchdog, configured=False)
    assert (result.level, result.message) == (Level.ERROR, 'not configured')
    result = diagnostics.report(2.0, 'unconfigured', watchdog, configured=False,
                                last_error="key 'synergy.centres'")
    assert (result.level, result.message) == (Level.ERROR, "key 'synergy.centres'")


def test_diagnostics_warn_for_new_faults_only_then_back_to_ok():
    diagnostics, watchdog = ControlDiagnostics(0.0), Watchdog(TIMEOUT, now=0.0)
    watchdog.valid_state(0.0)
    assert report(diagnostics, 0.1, watchdog).level is Level.OK
    diagnostics.count('invalid_states')
    diagnostics.count('invalid_states')
    diagnostics.count('non_finite_outputs')
    result = report(diagnostics, 0.2, watchdog)
    assert (result.level, result.message) == (Level.WARN, '2 invalid_states, 1 non_finite_outputs')
    result = report(diagnostics, 0.3, watchdog)  # no new fault since: OK again
    assert (result.level, result.message) == (Level.OK, 'active')


@pytest.mark.parametrize('fault', FAULTS)
def test_diagnostics_warn_for_each_fault_counter(fault):
    diagnostics, watchdog = ControlDiagnostics(0.0), Watchdog(TIMEOUT, now=0.0)
    watchdog.valid_state(0.0)
    diagnostics.count(fault)
    assert report(diagnostics, 0.1, watchdog).message == f'1 {fault}'


def test_diagnostics_warn_while_the_watchdog_is_tripped_or_no_state_came():
    diagnostics, watchdog = ControlDiagnostics(0.0), Watchdog(TIMEOUT, now=0.0)
    watchdog.check(2 * TIMEOUT)  # no state within the timeout of the start
    result = report(diagnostics, 1.0, watchdog)
    assert (result.level, result.message) == (Level.WARN, 'no valid (paired) state received')
    watchdog.valid_state(1.0)
    watchdog.check(1.1)
    assert report(diagnostics, 1.1, watchdog).level is Level.OK
    watchdog.check(2.0)  # trip (its counter rises in the node, not here)
    result = report(diagnostics, 2.0, watchdog)
    assert (result.level, result.message) == (Level.WARN, 'watchdog')
    watchdog.valid_state(2.1)
    watchdog.check(2.1)
    assert report(diagnostics, 2.2, watchdog).level is Level.OK


def test_diagnostics_warn_for_a_second_publisher_on_the_command_topic():
    diagnostics, watchdog = ControlDiagnostics(0.0), Watchdog(TIMEOUT, now=0.0)
    watchdog.valid_state(0.0)
    assert report(diagnostics, 0.1, watchdog, publishers=['/synergy_controller']).level \
        is Level.OK
    result = report(diagnostics, 0.2, watchdog, publishers=['/stray', '/synergy_controller'])
    assert result.level is Level.WARN
    assert result.message == "2 publishers on /commands: ['/stray', '/synergy_controller']"


def test_diagnostics_count_commands_and_their_rate_per_report_window():
    diagnostics, watchdog = ControlDiagnostics(10.0), Watchdog(TIMEOUT, now=10.0)
    for policy in (True, True, True, False):
        diagnostics.count_command(policy)
    assert diagnostics.counters == {**dict.fromkeys(COUNTERS, 0), 'commands': 4,
                                    'policy_commands': 3, 'safe_commands': 1}
    assert report(diagnostics, 12.0, watchdog).loop_rate_hz == pytest.approx(2.0)
    diagnostics.count_command(True)
    assert report(diagnostics, 12.5, watchdog).loop_rate_hz == pytest.approx(2.0)


def test_the_safety_logic_runs_without_rclpy(run_blocking):
    run_blocking(('rclpy',), '''
        from synergy_control.ros.controller_state import LockstepGate, Watchdog, WatchdogCheck
        watchdog = Watchdog(0.5, now=0.0)
        watchdog.valid_state(0.0)
        assert watchdog.check(1.0) is WatchdogCheck.TRIP
        assert LockstepGate().admit(1, 1, lambda: True)
        assert not blocked_modules(), blocked_modules()
        print('safe without rclpy')
    ''', 'safe without rclpy')
