"""synergy_controller: an exported policy as a ROS 2 effort controller (lifecycle node).

configure
    load the ONNX policy and check its card against the robot's joints (a mismatch or a
    corrupt file fails the transition with the reason logged; the process keeps running);
activate
    start control; deactivate: publish one safe command (zero or hold) and stop.

Each control tick publishes exactly one command: the policy's when the node is enabled and
the state is valid, otherwise the safe command. Ticks come from a timer at the policy's
control rate (``realtime``) or from each new state (``lockstep``: joint state and odometry of
the same stamp). A steady-clock watchdog publishes the safe command when states stop.
Commands are clipped once, by the runtime (:meth:`PolicyRuntime.act_on_observation
<synergy_control.runtime.PolicyRuntime.act_on_observation>`), to the card's limits; the safe
commands lie inside them, and a non-finite command is never sent.

Each command names the state it answers (its stamp, in the first layout dimension's label,
see :func:`~synergy_control.ros.conversions.command_msg`), so a lockstep simulation can
refuse any command that answers no state it is waiting for. States outside the robot's
physical limits are refused like malformed ones (:class:`~synergy_control.state.StateReader`).

A policy with synergies publishes its L activations on ``~/synergy_activations`` with each
policy command, and its limbs coloured by synergy and lit by activation on
``~/synergy_markers`` (a MarkerArray in ``world``, :mod:`~synergy_control.ros.markers`).
"""

from __future__ import annotations

import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from nav_msgs.msg import Odometry
from rclpy.duration import Duration
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.subscription import MessageInfo
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import SetBool
from visualization_msgs.msg import MarkerArray

from synergy_control.robots import variant_names
from synergy_control.ros import qos
from synergy_control.ros.controller_state import (WATCHDOG_CHECKS, ControlDiagnostics,
                                                  LockstepGate, SafeCommand, Watchdog,
                                                  WatchdogCheck)
from synergy_control.ros.conversions import (command_msg, ctrl_from_msg, diagnostic_array,
                                             diagnostic_status, float_array_msg,
                                             robot_state_from_msgs, stamp_to_ns)
from synergy_control.ros.launch_plan import HOLD_MODES, MODES, default_policy
from synergy_control.ros.markers import synergy_markers
from synergy_control.ros.node_tools import (MessageInfoCallback, TickSamples, declare,
                                            percentiles, publisher_names, spin_main,
                                            steady_clock)
from synergy_control.ros.task_commands import TaskCommands
from synergy_control.ros.topics import (CONTROLLER_MARKERS_TOPIC, DEFAULT_COMMAND_TOPIC,
                                        DIAGNOSTICS_TOPIC, JOINT_STATES_TOPIC, ODOM_TOPIC,
                                        SYNERGY_ACTIVATIONS_TOPIC)
from synergy_control.runtime import NonFiniteError, PolicyLoadError, PolicyRuntime
from synergy_control.state import StateError, StateReader


class SynergyController(LifecycleNode):
    """Runs a policy on joint states and odometry, publishes effort commands."""

    def __init__(self, node_name: str = 'synergy_controller', **kwargs):
        super().__init__(node_name, **kwargs)
        self.policy_path = declare(self, 'policy', '',
                                   'exported ONNX policy (empty: the package default policy)')
        self.robot_override = declare(self, 'robot', '',
                                      'robot variant to check the policy against '
                                      "(empty: the policy card's robot)",
                                      choices=('', *variant_names()))
        self.mode = declare(self, 'mode', 'realtime',
                            'tick on a timer at the control rate or on each new state',
                            choices=MODES)
        self.watchdog_timeout = declare(self, 'watchdog_timeout', 0.5,
                                        'seconds without a valid state before the safe command',
                                        bounds=(0.001, 60.0))
        self.hold_mode = declare(self, 'hold_mode', 'zero',
                                 'safe command: zero effort, or the last valid command held '
                                 'until watchdog_timeout after the last valid state',
                                 choices=HOLD_MODES)
        diagnostics_period = declare(self, 'diagnostics_period', 1.0,
                                     'seconds between /diagnostics messages',
                                     bounds=(0.05, 60.0))
        self.markers_rate = declare(self, 'publish_markers', 10.0,
                                    'rate in Hz of ~/synergy_markers, the limbs coloured by '
                                    'synergy and lit by its activation (0 disables them)',
                                    bounds=(0.0, 1000.0))
        autostart = declare(self, 'autostart', True,
                            'configure and activate at start-up (no lifecycle manager needed)')
        self.tasks = TaskCommands(self)  # parameter 'task', topics ~/task and cmd_vel

        self.runtime: PolicyRuntime | None = None
        self.enabled = True
        self.active = False
        self.last_error = ''
        self.diagnostics = ControlDiagnostics(time.monotonic())
        self.compute_ms = TickSamples()
        self.latency_ms = TickSamples()
        self.watchdog = Watchdog(self.watchdog_timeout, time.monotonic())
        self._lockstep = LockstepGate()
        self._safe: SafeCommand | None = None
        self._inputs: list = []
        self._timers_active: list = []
        self._reset_state()

        self.create_service(SetBool, '~/enable', self._on_enable)
        self._diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, qos.EVENTS)
        self.create_timer(diagnostics_period, self._publish_diagnostics, clock=steady_clock())
        if autostart and self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            self.trigger_activate()

    def _reset_state(self) -> None:
        self._joint_state: tuple[JointState, MessageInfo, float] | None = None
        self._odometry: Odometry | None = None
        self._odometry_time = -np.inf
        self._lockstep.reset()
        self.watchdog.restart(time.monotonic())
        self._shown: tuple[np.ndarray, np.ndarray] | None = None  # (qpos, synergy) drawn
        if self.runtime is not None:
            self._reader.reset()
            self._safe.forget()

    @property
    def counters(self) -> dict[str, int]:
        """Commands sent and faults since start-up (:data:`~.controller_state.COUNTERS`)."""
        return self.diagnostics.counters

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the policy and check it against the robot; create the topics.

        FAILURE, whatever the reason (a bad file, card, structure or ``task``): the reason is
        logged and kept for /diagnostics (ERROR), and nothing is created. Every exception is
        caught here because rclpy turns one raised in a transition into an error transition
        without a word.
        """
        try:
            runtime = PolicyRuntime(self.policy_path or str(default_policy()),
                                    self.robot_override or None)
            markers = (synergy_markers(runtime.robot, runtime.card.synergy)
                       if runtime.synergy_count and self.markers_rate > 0 else None)
            reader = StateReader(runtime.robot)
            reason = self.tasks.attach(runtime)  # last: on success it opens the task topics
        except Exception as error:  # any: see the docstring
            reason = (str(error) if isinstance(error, (PolicyLoadError, FileNotFoundError))
                      else f'{type(error).__name__}: {error}')
        if reason:
            self.last_error = reason
            self.get_logger().error(f'cannot configure: {reason}')
            return TransitionCallbackReturn.FAILURE
        self.runtime, self._reader, self._markers, robot = runtime, reader, markers, runtime.robot
        self.last_error = ''
        self._safe = SafeCommand(runtime.command_low, runtime.command_high, self.hold_mode,
                                 self.watchdog)
        self._command_msg = Float64MultiArray()  # refilled per command
        self._synergy_msg = Float64MultiArray()
        self._command_pub = self.create_publisher(Float64MultiArray, DEFAULT_COMMAND_TOPIC,
                                                  qos.COMMAND)
        self._synergy_pub = self.create_publisher(Float64MultiArray, SYNERGY_ACTIVATIONS_TOPIC,
                                                  qos.EVENTS)
        self._marker_pub = (self.create_publisher(MarkerArray, CONTROLLER_MARKERS_TOPIC,
                                                  qos.MARKERS)
                            if self._markers is not None else None)
        self._inputs = [
            self.create_subscription(JointState, JOINT_STATES_TOPIC,
                                     MessageInfoCallback(self._on_joint_state),
                                     qos.STATE_SUBSCRIBER),
            self.create_subscription(Odometry, ODOM_TOPIC, self._on_odometry,
                                     qos.STATE_SUBSCRIBER)]
        card = self.runtime.card
        self.get_logger().info(
            f"policy '{card.name}' ({card.method}) for '{robot.name}': {len(robot.joint_names)}"
            f' joints, control period {card.control_period * 1e3:.1f} ms, '
            f"{self.runtime.synergy_count} synergies, {self.mode} mode"
            + (f', task {self.runtime.task}' if self.runtime.task else ''))
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start control (timers for the realtime tick and the watchdog)."""
        self._reset_state()
        timers = [self.create_timer(self.watchdog_timeout / WATCHDOG_CHECKS, self._on_watchdog,
                                    clock=steady_clock())]
        if self.mode == 'realtime':
            timers.append(self.create_timer(self.runtime.card.control_period,
                                            self._on_control_timer))
        if self._markers is not None:
            timers.append(self.create_timer(1.0 / self.markers_rate, self._publish_markers))
        self._timers_active = timers
        self.active = True
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Publish the safe command once and stop control."""
        self._stop()
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Drop the policy and the topics."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Leave the robot with the safe command."""
        if self.active:
            self._stop()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _stop(self) -> None:
        self.active = False
        for timer in self._timers_active:
            self.destroy_timer(timer)
        self._timers_active = []
        self._publish(self._safe.choose(time.monotonic()), False)

    def _release(self) -> None:
        if self.runtime is None:
            return
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self.destroy_publisher(self._command_pub)
        self.destroy_publisher(self._synergy_pub)
        if self._marker_pub is not None:
            self.destroy_publisher(self._marker_pub)
        self.tasks.detach()
        self._inputs = []
        self.runtime = None

    def destroy_node(self) -> None:
        """Leave the robot with the safe command (delivered, if possible) before going."""
        if getattr(self, 'active', False) and self.context.ok():  # absent: half-built
            self._stop()
            self._command_pub.wait_for_all_acked(Duration(seconds=0.2))
        super().destroy_node()

    @property
    def lifecycle_state(self) -> str:
        """'unconfigured', 'inactive' or 'active' (for diagnostics and tests)."""
        if self.active:
            return 'active'
        return 'inactive' if self.runtime is not None else 'unconfigured'

    # ------------------------------------------------------------------ inputs
    def _on_joint_state(self, msg: JointState, info: MessageInfo) -> None:
        self._joint_state = (msg, info, time.monotonic())
        if self.mode == 'lockstep':
            self._tick_if_paired()

    def _on_odometry(self, msg: Odometry) -> None:
        self._odometry = msg
        self._odometry_time = time.monotonic()
        if self.mode == 'lockstep':
            self._tick_if_paired()

    def _tick_if_paired(self) -> None:
        """Answer each new (joint state, odometry) pair of one stamp exactly once.

        Not before the command publisher has matched a subscriber (:class:`LockstepGate`).
        """
        if not self.active:
            return
        if self._lockstep.admit(
                stamp_to_ns(self._joint_state[0].header.stamp) if self._joint_state else None,
                stamp_to_ns(self._odometry.header.stamp) if self._odometry else None,
                lambda: self._command_pub.get_subscription_count() > 0):
            self._tick()

    def _on_control_timer(self) -> None:
        """Tick on the newest state; a stale one is left to the watchdog."""
        if self._joint_state is None or self._odometry is None:
            return
        if self.watchdog.fresh(min(self._joint_state[2], self._odometry_time), time.monotonic()):
            self._tick()

    def _on_watchdog(self) -> None:
        """Safe command while states have stopped (armed by the first state, :class:`Watchdog`)."""
        now = time.monotonic()
        check = self.watchdog.check(now)
        if check is WatchdogCheck.TRIP:
            self.diagnostics.count('watchdog_trips')
            self.get_logger().warning(f'no valid state for {self.watchdog_timeout} s: '
                                      'publishing zero effort')  # a hold ends here too
        if check is not WatchdogCheck.QUIET:
            self._publish(self._safe.choose(now), False)

    def _on_enable(self, request: SetBool.Request, response: SetBool.Response
                   ) -> SetBool.Response:
        self.enabled = request.data
        response.success = True
        response.message = 'policy enabled' if self.enabled else \
            f'policy disabled: publishing the {self.hold_mode} command'
        self.get_logger().info(response.message)
        return response

    # ------------------------------------------------------------------ control
    def _tick(self) -> None:
        """One control step: policy command for a valid state, else the safe command.

        The compute time recorded is the policy step as the robot sees it: state conversion
        (messages to qpos, qvel), observation, inference and action scaling.
        """
        msg, info, received = self._joint_state
        answers = stamp_to_ns(msg.header.stamp)
        started = time.perf_counter()
        try:
            qpos, qvel = robot_state_from_msgs(self._reader, msg, self._odometry)
            self.watchdog.valid_state(min(received, self._odometry_time))
            if not self.enabled:
                self._publish(self._safe.choose(time.monotonic()), False, answers)
                return
            ctrl = (ctrl_from_msg(self._reader, self.runtime.scaling, msg)
                    if self.runtime.observe.needs_ctrl else None)
            output = self.runtime.act(qpos, qvel, ctrl)
        except StateError as error:
            self.diagnostics.count('invalid_states')
            self.get_logger().warning(f'refusing state: {error}', throttle_duration_sec=1.0)
            self._publish(self._safe.choose(time.monotonic()), False, answers)
            return
        except NonFiniteError as error:
            self.diagnostics.count('non_finite_outputs')
            self.get_logger().warning(f'refusing policy step: {error}', throttle_duration_sec=1.0)
            self._publish(self._safe.choose(time.monotonic()), False, answers)
            return
        self.compute_ms.append((time.perf_counter() - started) * 1e3)
        self._safe.remember(output.commands, time.monotonic())
        self._publish(output.commands, True, answers)
        if info['source_timestamp'] > 0:
            self.latency_ms.append((time.time_ns() - info['source_timestamp']) * 1e-6)
        if output.synergy.size:  # a policy without synergies has no activations to show
            self._synergy_pub.publish(float_array_msg(output.synergy, self._synergy_msg))
            self._shown = (qpos, output.synergy)

    def _publish_markers(self) -> None:
        """Draw the newest policy step's pose and synergy activations (nothing before one)."""
        if self._shown is not None:
            qpos, synergy = self._shown
            self._marker_pub.publish(self._markers(qpos, synergy,
                                                   self.get_clock().now().to_msg()))

    def _publish(self, command: np.ndarray, policy: bool, answers: int | None = None) -> None:
        """Send a command: the only way one leaves the node (finite, counted).

        ``command`` is the runtime's (clipped there) or a safe one (inside the limits);
        ``answers`` is the stamp (ns) of the state the command answers (None: none).
        """
        if not np.isfinite(command).all():
            self.diagnostics.count('non_finite_outputs')
            command = self._safe.zero
            policy = False
        self._command_pub.publish(command_msg(command, answers, self._command_msg))
        self.diagnostics.count_command(policy)

    # ------------------------------------------------------------------ diagnostics
    def statistics(self, recent: bool = False) -> dict:
        """Return counters and percentiles (ms) of the policy step and of state latency.

        ``compute_ms``: the policy step of a tick (state conversion, observation, inference,
        scaling; see :meth:`_tick`); ``latency_ms``: the joint state's DDS source timestamp
        to the command's publication, measured in this node.

        Over the run (its newest SAMPLES ticks) for summaries, or, with ``recent``, over the
        ticks since the previous ``recent`` call (diagnostics).
        """
        compute, latency = (
            percentiles(samples.take_recent() if recent else samples.all)
            for samples in (self.compute_ms, self.latency_ms))
        return {**self.counters, 'compute_ms_p50': compute[0], 'compute_ms_p99': compute[1],
                'latency_ms_p50': latency[0], 'latency_ms_p99': latency[1]}

    def _publish_diagnostics(self) -> None:
        """Publish the level and message of :class:`ControlDiagnostics`, with the statistics."""
        configured = self.runtime is not None
        topic = self._command_pub.topic_name if configured else ''
        publishers = publisher_names(self, topic) if configured else []
        report = self.diagnostics.report(
            time.monotonic(), self.lifecycle_state, self.watchdog, configured=configured,
            last_error=self.last_error, command_topic=topic, publishers=publishers)
        values = {'state': self.lifecycle_state, 'enabled': self.enabled, 'mode': self.mode,
                  'policy': self.runtime.path if self.runtime else self.policy_path,
                  'command_publishers': len(publishers),
                  'loop_rate_hz': report.loop_rate_hz, **self.statistics(recent=True)}
        status = diagnostic_status(f'{self.get_fully_qualified_name()}: control',
                                   getattr(DiagnosticStatus, report.level.name), report.message,
                                   values,
                                   self.runtime.robot.name if self.runtime else '')
        self._diag_pub.publish(diagnostic_array(self.get_clock().now().to_msg(), [status]))


def main(args: list[str] | None = None) -> None:
    """Entry point of ``ros2 run synergy_control synergy_controller``."""
    spin_main(SynergyController, args)


if __name__ == '__main__':
    main()
