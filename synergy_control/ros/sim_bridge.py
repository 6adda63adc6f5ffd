"""sim_bridge: a MuJoCo robot behind the topics a ros2_control effort robot offers.

Publishes /joint_states, /odom, /clock, /sim/markers, /diagnostics and /sim/episode and
drives the simulation with effort commands (std_msgs/Float64MultiArray, actuator order),
always through :meth:`LocomotionEnv.step_command`, so an episode return measured here is the
one ``synergy-control evaluate`` measures offline.

Modes:

``realtime``
    Paced to the wall clock times ``realtime_factor``; the newest valid command is held
    (zero-order hold) until ``command_timeout`` passes without one, then zero is applied.
``lockstep``
    Each published state is answered by exactly one command before the simulation advances,
    as fast as the loop allows. A command counts as the answer only if it names the pending
    state's stamp (see :func:`~synergy_control.ros.conversions.command_msg`) and comes from
    the controller the loop follows (the first publisher that answered, until it misses the
    command timeout); any other command (late, repeated, unstamped, from a second publisher)
    is refused and counted (``unmatched_commands``). Until the first answer arrives the
    bridge waits for its controller, re-sending the first state every check period (at most
    50 ms, so that a controller that has just appeared starts the loop at once); after that a
    missing answer means a zero command and a diagnostic.

Wrong-length or non-finite commands are refused (logged, counted) and never reach the
simulation. More than one publisher on the command topic is reported in diagnostics (both
modes). Diagnostics also give the answer latency: from publishing a state to receiving the
command that answers it.
"""

from __future__ import annotations

import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.subscription import MessageInfo
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger
from visualization_msgs.msg import MarkerArray

from synergy_control.envs import LocomotionEnv
from synergy_control.robots import get_robot, variant_names
from synergy_control.ros import qos
from synergy_control.ros.conversions import (CommandError, GeomMarkers, answered_stamp,
                                             clock_msg, diagnostic_array, diagnostic_status,
                                             joint_state_msg, odometry_msg, parse_command,
                                             stamp_from_ns)
from synergy_control.ros.launch_plan import MODES
from synergy_control.ros.node_tools import (MessageInfoCallback, ParameterError, TickSamples,
                                            declare, percentiles, publisher_names, spin_main,
                                            steady_clock)
from synergy_control.ros.topics import (CLOCK_TOPIC, DEFAULT_COMMAND_TOPIC, DIAGNOSTICS_TOPIC,
                                        EPISODE_TOPIC, JOINT_STATES_TOPIC, ODOM_TOPIC,
                                        SIM_MARKERS_TOPIC)

#: Realtime mode steps at most this many control periods per timer tick to catch up.
MAX_CATCH_UP = 5


class SimBridge(Node):
    """The simulated robot: a LocomotionEnv behind joint-state, odometry and command topics."""

    def __init__(self, node_name: str = 'sim_bridge', **kwargs):
        super().__init__(node_name, **kwargs)
        robot = declare(self, 'robot', 'walker_7_main', 'robot variant to simulate',
                        choices=variant_names())
        self.mode = declare(self, 'mode', 'realtime', 'pacing of the simulation',
                            choices=MODES)
        self.realtime_factor = declare(self, 'realtime_factor', 1.0,
                                       'simulated seconds per wall second (realtime mode)',
                                       bounds=(0.01, 100.0))
        self.seed = declare(self, 'seed', 0, 'reset seed of episode 0; episode k uses seed + k')
        task = declare(self, 'task', '', "the robot's task (reward, termination, episode "
                       "length), e.g. vel:3; empty: the family's default")
        self.command_timeout = declare(
            self, 'command_timeout', 0.5,
            'seconds without a (valid) command before zero effort is applied',
            bounds=(0.001, 60.0))
        markers_rate = declare(self, 'publish_markers', 10.0,
                               'rate of /sim/markers in Hz (0 disables them)',
                               bounds=(0.0, 100.0))
        diagnostics_period = declare(self, 'diagnostics_period', 1.0,
                                     'seconds between /diagnostics messages',
                                     bounds=(0.05, 60.0))

        self.robot = get_robot(robot)
        try:
            self.env = LocomotionEnv(self.robot, task=task or None)
        except ValueError as error:
            raise ParameterError(f"parameter 'task': {error}") from None
        self._zero = np.zeros(self.robot.model.nu)
        self._dt_ns = round(self.robot.control_period * 1e9)
        self.steps = 0
        self._ticks = 0  # control periods of sim time: steps plus one per reset
        self.episode = 0
        self.episode_return = 0.0
        self.episode_length = 0
        self.forward_velocity = 0.0
        self.counters = {'refused_commands': 0, 'unmatched_commands': 0, 'command_timeouts': 0,
                         'episodes': 0}
        self.answer_latency_ms = TickSamples()
        self.answered_states = 0
        self.unanswered_states = 0  # published, then superseded before any answer came
        self.late_periods = 0  # realtime: periods whose state was never published (timer late)
        self.command_publishers: list[str] = []
        self._command = self._zero
        self._command_time = -np.inf
        self._timed_out = False
        self._published_ns = 0
        self._published_at = 0.0
        self._published_stamp = -1  # stamp (ns) of the newest state: the one pending an answer
        self._state_answered = False
        self._answered = False
        self._controller: bytes | None = None  # lockstep: publisher (GID) the loop follows

        # One message per state topic, refilled each step (publishing serialises it at once).
        self._joint_msg = joint_state_msg(self.robot, self.env.data, stamp_from_ns(0))
        self._odom_msg = odometry_msg(self.robot, self.env.data.qpos, self.env.data.qvel,
                                      stamp_from_ns(0))
        self._joint_pub = self.create_publisher(JointState, JOINT_STATES_TOPIC,
                                                qos.STATE_PUBLISHER)
        self._odom_pub = self.create_publisher(Odometry, ODOM_TOPIC, qos.STATE_PUBLISHER)
        self._clock_pub = self.create_publisher(Clock, CLOCK_TOPIC, qos.CLOCK)
        self._episode_pub = self.create_publisher(DiagnosticStatus, EPISODE_TOPIC, qos.EVENTS)
        self._diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, qos.EVENTS)
        self._command_sub = self.create_subscription(
            Float64MultiArray, DEFAULT_COMMAND_TOPIC, MessageInfoCallback(self._on_command),
            qos.COMMAND_MATCHING_READER)
        self.create_service(Trigger, 'sim/reset', self._on_reset)
        clock = steady_clock()
        if markers_rate > 0.0:
            self._markers = GeomMarkers(self.robot.model)
            self._marker_pub = self.create_publisher(MarkerArray, SIM_MARKERS_TOPIC, qos.MARKERS)
            self.create_timer(1.0 / markers_rate, self._publish_markers, clock=clock)
        self.create_timer(diagnostics_period, self._publish_diagnostics, clock=clock)
        self._diag_window = (time.monotonic(), 0, dict(self.counters))
        if self.mode == 'realtime':
            self._start = time.monotonic()
            self._paced_steps = 0
            self.create_timer(self.robot.control_period / self.realtime_factor,
                              self._on_realtime_tick, clock=clock)
        else:
            self.create_timer(min(0.05, self.command_timeout / 4), self._on_lockstep_check,
                              clock=clock)
        self._reset_episode()
        self._publish_state()
        self.get_logger().info(
            f"simulating '{robot}' ({self.robot.model.nu} actuators, control period "
            f'{self.robot.control_period * 1e3:.1f} ms) in {self.mode} mode; commands on '
            f"'{self._command_sub.topic_name}'")

    # ------------------------------------------------------------------ simulation
    @property
    def sim_time_ns(self) -> int:
        """Simulation time in control periods.

        A reset takes a period too, so every state published (the first of an episode
        included) has a stamp of its own, and lockstep answers cannot be confused.
        """
        return self._ticks * self._dt_ns

    def _reset_episode(self) -> None:
        self.env.reset(seed=self.seed + self.episode)
        self.episode_return = 0.0
        self.episode_length = 0

    def _end_episode(self, end: str, terminated: bool, truncated: bool) -> None:
        """Publish the episode's statistics, naming the task its return was scored on.

        That is the bridge's own ``task`` (fixed at start-up): a controller whose task is
        changed at run time (``~/task``, ``cmd_vel``) is still scored on it.
        """
        task = str(self.env.task)
        values = {'episode': self.episode, 'seed': self.seed + self.episode,
                  'return': self.episode_return, 'length': self.episode_length,
                  'terminated': terminated, 'truncated': truncated, 'end': end, 'task': task}
        self._episode_pub.publish(diagnostic_status(
            f'{self.get_fully_qualified_name()}: episode', DiagnosticStatus.OK,
            f'{end}; return scored on task {task}', values, self.robot.name))
        self.counters['episodes'] += 1
        self.episode += 1
        self._reset_episode()

    def _advance(self, command: np.ndarray) -> None:
        """One control period with ``command``; ends and restarts episodes as the env says."""
        _, reward, terminated, truncated, info = self.env.step_command(command)
        self.steps += 1
        self._ticks += 1
        self.episode_return += reward
        self.episode_length += 1
        self.forward_velocity = info['x_velocity']
        if terminated or truncated:
            self._end_episode('terminated' if terminated else 'truncated', terminated, truncated)

    def _publish_state(self) -> None:
        if self._answered and not self._state_answered:
            self.unanswered_states += 1
        self._published_stamp, self._state_answered = self.sim_time_ns, False
        stamp = stamp_from_ns(self.sim_time_ns)
        data = self.env.data
        self._published_ns = time.time_ns()
        self._published_at = time.monotonic()
        self._odom_pub.publish(odometry_msg(self.robot, data.qpos, data.qvel, stamp,
                                            self._odom_msg))
        self._joint_pub.publish(joint_state_msg(self.robot, data, stamp, self._joint_msg))
        # Last: a controller ticking on /clock then finds the state of that time waiting.
        self._clock_pub.publish(clock_msg(self.sim_time_ns))

    # ------------------------------------------------------------------ commands
    def _on_command(self, msg: Float64MultiArray, info: MessageInfo) -> None:
        try:
            command = parse_command(msg, self.robot.model.nu)
        except CommandError as error:
            self.counters['refused_commands'] += 1
            self.get_logger().warning(f'refused command: {error}', throttle_duration_sec=1.0)
            return
        answers = answered_stamp(msg)
        if self.mode == 'lockstep' and not self._answers_pending_state(answers, info):
            return
        if answers == self._published_stamp and not self._state_answered:
            self._state_answered = True
            self.answered_states += 1
            self.answer_latency_ms.append(
                (info['received_timestamp'] - self._published_ns) * 1e-6)
        if self.mode == 'realtime':
            self._command = command
            self._command_time = time.monotonic()
            return
        self._answered = True
        self._advance(command)
        self._publish_state()

    def _answers_pending_state(self, answers: int | None, info: MessageInfo) -> bool:
        """Whether a lockstep command is the answer to the pending state (else count it).

        It must name the pending state's stamp and come from the controller the loop follows:
        the publisher of the first accepted answer, until it misses ``command_timeout``. A
        second controller's answers, in time or not, would otherwise alternate two policies.
        """
        publisher = (info.get('publisher_gid') or {}).get('data')
        if answers != self._published_stamp:
            why = (f"it answers {'no state' if answers is None else answers} but the pending "
                   f'state is stamped {self._published_stamp} (ns)')
        elif self._controller is not None and publisher != self._controller:
            why = 'it comes from a second publisher (the loop follows the first that answered)'
        else:
            self._controller = publisher
            return True
        self.counters['unmatched_commands'] += 1
        self.get_logger().warning(f'refused command: {why}', throttle_duration_sec=1.0)
        return False

    def _on_lockstep_check(self) -> None:
        if not self._answered:
            self._republish_first_state()
            return
        if time.monotonic() - self._published_at < self.command_timeout:
            return
        self.counters['command_timeouts'] += 1
        self.get_logger().warning(
            f'no command within {self.command_timeout} s of the state at step {self.steps}: '
            'stepping with zero effort', throttle_duration_sec=1.0)
        self._controller = None  # it stopped answering: follow whichever answers next
        self._advance(self._zero)
        self._publish_state()

    def _republish_first_state(self) -> None:
        """Re-send the state (same stamp) for a controller that may have missed it.

        The answer-after-publish time stays the first sending's, so that an answer to any
        copy is accepted.
        """
        published_ns = self._published_ns
        self._publish_state()
        self._published_ns = published_ns

    def _on_realtime_tick(self) -> None:
        due = int((time.monotonic() - self._start) * self.realtime_factor
                  / self.robot.control_period) - self._paced_steps
        if due <= 0:
            return
        if self.answered_states:  # a controller is in the loop: count what it never saw
            self.late_periods += due - 1
        if due > MAX_CATCH_UP:  # fell behind (e.g. paused): drop the backlog, keep pacing
            self._paced_steps += due - MAX_CATCH_UP
            due = MAX_CATCH_UP
        command = self._held_command()
        for _ in range(due):
            self._advance(command)
        self._paced_steps += due
        self._publish_state()

    def _held_command(self) -> np.ndarray:
        stale = time.monotonic() - self._command_time > self.command_timeout
        if stale and not self._timed_out and np.isfinite(self._command_time):
            self.counters['command_timeouts'] += 1
            self.get_logger().warning(
                f'no command for {self.command_timeout} s: applying zero effort')
        self._timed_out = stale
        return self._zero if stale else self._command

    # ------------------------------------------------------------------ services, outputs
    def _on_reset(self, _request: Trigger.Request, response: Trigger.Response
                  ) -> Trigger.Response:
        self._end_episode('reset', False, False)
        self._ticks += 1
        self._publish_state()
        response.success = True
        response.message = f'episode {self.episode} started with seed {self.seed + self.episode}'
        return response

    def _publish_markers(self) -> None:
        self._marker_pub.publish(self._markers(self.env.data, stamp_from_ns(self.sim_time_ns)))

    def statistics(self) -> dict:
        """Return the answer latency (ms, over the run's newest samples) and who commands.

        Answer latency: from publishing a state to receiving the command that answers it (by
        stamp; DDS reception timestamp). ``unanswered_states``: states superseded before an
        answer came (after the first answer); ``late_periods``: control periods (realtime)
        whose state was never published because the bridge's timer came late.
        """
        p50, p99 = percentiles(self.answer_latency_ms.all)
        return {'answer_latency_ms_p50': p50, 'answer_latency_ms_p99': p99,
                'answered_states': self.answered_states,
                'unanswered_states': self.unanswered_states,
                'late_periods': self.late_periods,
                'command_publishers': self.command_publishers}

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        since, steps_then, counters_then = self._diag_window
        self._diag_window = (now, self.steps, dict(self.counters))
        rtf = (self.steps - steps_then) * self.robot.control_period / max(now - since, 1e-9)
        new_faults = {k: v - counters_then[k] for k, v in self.counters.items()
                      if k != 'episodes' and v > counters_then[k]}
        topic = self._command_sub.topic_name
        self.command_publishers = publisher_names(self, topic)
        problems = [f'{v} {k}' for k, v in new_faults.items()]
        if len(self.command_publishers) > 1:
            problems.append(f'{len(self.command_publishers)} publishers on {topic}: '
                            f'{self.command_publishers}')
        level = DiagnosticStatus.WARN if problems else DiagnosticStatus.OK
        message = ', '.join(problems) or 'running'
        latency = percentiles(self.answer_latency_ms.take_recent())
        values = {'mode': self.mode, 'sim_time': self.sim_time_ns * 1e-9, 'steps': self.steps,
                  'real_time_factor': rtf, 'episode': self.episode,
                  'episode_return': self.episode_return, 'episode_length': self.episode_length,
                  'torso_height': self.robot.torso_height(self.env.data.qpos),
                  'forward_velocity': self.forward_velocity,
                  'command_publishers': len(self.command_publishers),
                  'answer_latency_ms_p50': latency[0], 'answer_latency_ms_p99': latency[1],
                  'unanswered_states': self.unanswered_states, **self.counters}
        status = diagnostic_status(f'{self.get_fully_qualified_name()}: simulation', level,
                                   message, values, self.robot.name)
        self._diag_pub.publish(diagnostic_array(self.get_clock().now().to_msg(), [status]))


def main(args: list[str] | None = None) -> None:
    """Entry point of ``ros2 run synergy_control sim_bridge``."""
    spin_main(SimBridge, args)


if __name__ == '__main__':
    main()
