"""A multi-task policy's task as ROS inputs: parameter ``task``, topics ``~/task`` and ``cmd_vel``.

EAR policies take a task embedding as a graph input; this is how a running controller
chooses, blends and adapts it (one syntax everywhere, see
:func:`~synergy_control.task_embedding.parse_task`):

- parameter ``task`` (settable at run time) and topic ``~/task`` (std_msgs/String): a named
  task (``vel:3``), a blend (``vel:3 vel:5 0.25``) or a raw vector (``[0.1, 0.9, -0.2]``);
  an empty ``task`` is the card's default task;
- topic ``cmd_vel`` (geometry_msgs/Twist, ``linear.x`` in m/s), for policies trained on
  ``vel:<speed>`` tasks: the blend of the two nearest trained speeds; a speed outside the
  trained range is refused unless parameter ``clamp_speed`` is true. 0 m/s (the stop
  convention of velocity commands) is the slowest trained speed: a locomotion policy has no
  standing task, and zero effort would drop the robot.
- ``cmd_vel_timeout`` (seconds, 0: never): when the task in use came from ``cmd_vel`` and
  no ``cmd_vel`` was accepted for that long (the commander died), the task falls back to
  the slowest trained speed, logged, as a velocity controller stops on its timeout.

The parameter is the one way in and always names the task in use: a ``~/task`` or
``cmd_vel`` command is set as the parameter, so every input is checked by the same code
and ``ros2 param get`` shows what the policy pursues. A set of parameters is checked whole
before anything is applied (all or nothing). A malformed command is refused and logged
(the parameter change fails with the reason) and the current task stays; ``task`` on a
policy that takes no task is refused too. Changes are logged, repeats are not, both at most
once a second, and a refused command is quoted cut short. The task in use is published on
``~/task_embedding`` (Float64MultiArray, its label the command) with transient-local
durability, so a late subscriber sees it too.
"""

from __future__ import annotations

import time

from geometry_msgs.msg import Twist
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Float64MultiArray, MultiArrayDimension, String

from synergy_control.ros import qos
from synergy_control.ros.node_tools import declare, steady_clock
from synergy_control.ros.topics import CMD_VEL_TOPIC, TASK_EMBEDDING_TOPIC, TASK_TOPIC
from synergy_control.runtime import PolicyRuntime
from synergy_control.task_embedding import (TaskEmbeddingError, parse_task, quoted,
                                            velocity_task)

#: The task in use: the newest one, kept for subscribers that join later.
TASK_STATE = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.TRANSIENT_LOCAL)
#: Checks of the cmd_vel timeout per timeout: the fallback starts at most this fraction late.
TIMEOUT_CHECKS = 5
#: Seconds between two log lines of one kind (task changes, refusals).
LOG_THROTTLE = 1.0


class Throttle:
    """At most one True per ``period`` seconds: a log line's gate, checked before logging.

    Not rclpy's ``throttle_duration_sec``: that finds its caller's frame on every call, even
    a suppressed one, which made a flood of task commands spend most of its time in logging.
    """

    def __init__(self, period: float = LOG_THROTTLE):
        self.period = period
        self._next = -float('inf')

    def __call__(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.period
        return True


class TaskCommands:
    """Owns the task inputs of a controller node; attached while a policy is configured."""

    def __init__(self, node: Node):
        self.node = node
        self.task = node.declare_parameter(
            'task', '', ParameterDescriptor(
                description="task of a multi-task policy: a name ('vel:3'), a blend "
                            "('vel:3 vel:5 0.25') or a vector ('[x, y, z]'); empty: the "
                            "policy's default. Names the task in use, whichever input set it")
        ).value
        self.clamp_speed = node.declare_parameter(
            'clamp_speed', False, ParameterDescriptor(
                description='clamp cmd_vel speeds outside the trained range instead of '
                            'refusing them')).value
        self.cmd_vel_timeout = declare(
            node, 'cmd_vel_timeout', 0.5,
            'seconds without an accepted cmd_vel before a task set by cmd_vel falls back to '
            'the slowest trained speed (0: never)', bounds=(0.0, 60.0))
        self.runtime: PolicyRuntime | None = None
        self.refused = 0
        self._entities: list = []
        self._timer = None
        self._cmd_vel: tuple[str, float] | None = None  # (task it set, when: monotonic s)
        self._log_change, self._log_refusal = Throttle(), Throttle()
        node.add_on_set_parameters_callback(self._check_parameters)
        node.add_post_set_parameters_callback(self._apply_parameters)

    def attach(self, runtime: PolicyRuntime) -> str | None:
        """Apply the ``task`` parameter and open the inputs; return an error, or None.

        A policy without a task input refuses a non-empty ``task`` (the user meant some
        other policy), now and at every later set, and gets no task topics.
        """
        error = self._task_error(self.task, runtime)
        if error:
            return f"parameter 'task': {error}"
        self.runtime = runtime
        if not runtime.task_names:
            return None
        runtime.set_task(self.task or runtime.card.tasks['default'])
        self._state_pub = self.node.create_publisher(Float64MultiArray, TASK_EMBEDDING_TOPIC,
                                                     TASK_STATE)
        self._entities = [
            self.node.create_subscription(String, TASK_TOPIC, self._on_task, qos.EVENTS),
            self.node.create_subscription(Twist, CMD_VEL_TOPIC, self._on_cmd_vel, qos.EVENTS)]
        if self.cmd_vel_timeout > 0:
            self._timer = self.node.create_timer(self.cmd_vel_timeout / TIMEOUT_CHECKS,
                                                 self._on_cmd_vel_timer, clock=steady_clock())
        self._announce()
        return None

    def detach(self) -> None:
        """Close the task inputs (the policy is being released)."""
        if self._entities:
            self.node.destroy_publisher(self._state_pub)
        for subscription in self._entities:
            self.node.destroy_subscription(subscription)
        if self._timer is not None:
            self.node.destroy_timer(self._timer)
        self._entities, self._timer, self._cmd_vel, self.runtime = [], None, None, None

    # ------------------------------------------------------------------ parameters
    @staticmethod
    def _task_error(command: str, runtime: PolicyRuntime | None) -> str | None:
        """Why ``command`` cannot be the ``task`` of ``runtime``'s policy (None: it can).

        Without a configured policy nothing can be checked yet: configure checks it.
        """
        if runtime is None or not command:
            return None
        if not runtime.task_names:
            return f"'{quoted(command)}' given, but the policy takes no task"
        try:
            parse_task(command, runtime.card.tasks['embeddings'], runtime.card.tasks['dim'])
        except TaskEmbeddingError as error:
            return str(error)
        return None

    def _check_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """Check every parameter of a set before any is applied: all or nothing.

        Types are checked by rclpy (the descriptors are statically typed); this changes
        nothing, :meth:`_apply_parameters` does once the whole set is accepted.
        """
        for parameter in parameters:
            if parameter.name == 'task':
                error = self._task_error(parameter.value, self.runtime)
                if error:
                    self._refuse(f"task '{quoted(parameter.value)}': {error}")
                    return SetParametersResult(successful=False, reason=error)
        return SetParametersResult(successful=True)

    def _apply_parameters(self, parameters: list[Parameter]) -> None:
        for parameter in parameters:
            if parameter.name == 'clamp_speed':
                self.clamp_speed = parameter.value
            elif parameter.name == 'task':
                self.task = parameter.value
                if self._entities:  # a policy with tasks is attached
                    self._use(self.task or self.runtime.card.tasks['default'])

    def _use(self, command: str) -> None:
        """Feed ``command`` (already checked) to the policy; log and announce a change."""
        previous = self.runtime.task
        described = self.runtime.set_task(command)
        if described != previous:
            if self._log_change():
                self.node.get_logger().info(f'task: {quoted(described)}')
            self._announce()

    # ------------------------------------------------------------------ topics
    def _command(self, command: str) -> bool:
        """Set ``command`` as the ``task`` parameter (checked there); True if it is in use."""
        if command == self.task:
            return True
        return self.node.set_parameters([Parameter('task', value=command)])[0].successful

    def _on_task(self, msg: String) -> None:
        self._command(msg.data)

    def _on_cmd_vel(self, msg: Twist) -> None:
        """Follow a forward-speed command; 0 m/s (stop) is the slowest trained speed."""
        speed = msg.linear.x
        try:
            command, _ = velocity_task(speed, self.runtime.card.tasks['embeddings'],
                                       clamp=self.clamp_speed or speed == 0.0)
        except TaskEmbeddingError as error:
            self._refuse(f'cmd_vel linear.x = {speed}: {error}')
            return
        if self._command(command):
            self._cmd_vel = (command, time.monotonic())

    def _on_cmd_vel_timer(self) -> None:
        """Fall back to the slowest trained speed when the commander of the task went quiet.

        Only a task that ``cmd_vel`` set is replaced: one set since by the parameter or by
        ``~/task`` is not the commander's any more.
        """
        if self._cmd_vel is None:
            return
        command, accepted = self._cmd_vel
        if command != self.task:
            self._cmd_vel = None
        elif time.monotonic() - accepted > self.cmd_vel_timeout:
            self._cmd_vel = None
            fallback, _ = velocity_task(0.0, self.runtime.card.tasks['embeddings'], clamp=True)
            self.node.get_logger().warning(
                f'no cmd_vel for {self.cmd_vel_timeout} s: falling back to the slowest trained '
                f'speed ({fallback})')
            self._command(fallback)

    def _refuse(self, reason: str) -> None:
        self.refused += 1
        if self._log_refusal():
            keeping = f'; keeping task {quoted(self.runtime.task)}' if self.runtime else ''
            self.node.get_logger().warning(f'refusing {reason}{keeping}')

    def _announce(self) -> None:
        msg = Float64MultiArray(data=self.runtime.task_embedding.tolist())
        msg.layout.dim = [MultiArrayDimension(label=self.runtime.task, size=len(msg.data),
                                              stride=len(msg.data))]
        self._state_pub.publish(msg)
