"""A multi-task policy's task as ROS inputs: parameter ``task``, topics ``~/task`` and ``cmd_vel``.

EAR policies take a task embedding as a graph input; this is how a running controller
chooses, blends and adapts it (one syntax everywhere, see
:func:`~synergy_control.task_embedding.parse_task`):

- parameter ``task`` (settable at run time) and topic ``~/task`` (std_msgs/String): a named
  task (``vel:3``), a blend (``vel:3 vel:5 0.25``) or a raw vector (``[0.1, 0.9, -0.2]``);
- topic ``cmd_vel`` (geometry_msgs/Twist, ``linear.x`` in m/s), for policies trained on
  ``vel:<speed>`` tasks: the blend of the two nearest trained speeds; a speed outside the
  trained range is refused unless parameter ``clamp_speed`` is true.

A malformed command is refused and logged (the parameter change fails with the reason) and
the current task stays. The newest valid command wins, whichever input it came by; the
parameter keeps the last value set through it. The task in use is published on
``~/task_embedding`` (Float64MultiArray, its label the command) with transient-local
durability, so a late subscriber sees it too.
"""

from __future__ import annotations

from geometry_msgs.msg import Twist
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Float64MultiArray, MultiArrayDimension, String

from synergy_control.ros import qos
from synergy_control.runtime import PolicyRuntime
from synergy_control.task_embedding import TaskEmbeddingError, velocity_task

#: The task in use: the newest one, kept for subscribers that join later.
TASK_STATE = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.TRANSIENT_LOCAL)


class TaskCommands:
    """Owns the task inputs of a controller node; attached while a policy is configured."""

    def __init__(self, node: Node):
        self.node = node
        self.task = node.declare_parameter(
            'task', '', ParameterDescriptor(
                description="task of a multi-task policy: a name ('vel:3'), a blend "
                            "('vel:3 vel:5 0.25') or a vector ('[x, y, z]'); empty: the "
                            "policy's default")).value
        self.clamp_speed = node.declare_parameter(
            'clamp_speed', False, ParameterDescriptor(
                description='clamp cmd_vel speeds outside the trained range instead of '
                            'refusing them')).value
        self.runtime: PolicyRuntime | None = None
        self.refused = 0
        self._entities: list = []
        node.add_on_set_parameters_callback(self._on_parameters)

    def attach(self, runtime: PolicyRuntime) -> str | None:
        """Apply the ``task`` parameter and open the inputs; return an error, or None.

        A policy without a task input refuses a non-empty ``task`` (the user meant some
        other policy) and gets no task topics.
        """
        if not runtime.task_names:
            return (f"parameter 'task' is '{self.task}' but the policy takes no task"
                    if self.task else None)
        if self.task:
            try:
                runtime.set_task(self.task)
            except ValueError as error:
                return f"parameter 'task': {error}"
        self.runtime = runtime
        self._state_pub = self.node.create_publisher(Float64MultiArray, '~/task_embedding',
                                                     TASK_STATE)
        self._entities = [
            self._state_pub,
            self.node.create_subscription(String, '~/task', self._on_task, qos.EVENTS),
            self.node.create_subscription(Twist, 'cmd_vel', self._on_cmd_vel, qos.EVENTS)]
        self._announce()
        return None

    def detach(self) -> None:
        """Close the task inputs (the policy is being released)."""
        for entity in self._entities:
            destroy = (self.node.destroy_publisher if entity is self._entities[0]
                       else self.node.destroy_subscription)
            destroy(entity)
        self._entities, self.runtime = [], None

    # ------------------------------------------------------------------ inputs
    def _on_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        for parameter in parameters:
            if parameter.name == 'clamp_speed':
                if parameter.type_ != Parameter.Type.BOOL:
                    return SetParametersResult(successful=False,
                                               reason="'clamp_speed' must be a bool")
                self.clamp_speed = parameter.value
            elif parameter.name == 'task':
                if parameter.type_ != Parameter.Type.STRING:
                    return SetParametersResult(successful=False, reason="'task' must be a string")
                error = self._apply(parameter.value) if self.runtime and parameter.value else None
                if error:
                    return SetParametersResult(successful=False, reason=error)
                self.task = parameter.value
        return SetParametersResult(successful=True)

    def _on_task(self, msg: String) -> None:
        self._apply(msg.data)

    def _on_cmd_vel(self, msg: Twist) -> None:
        try:
            command, _ = velocity_task(msg.linear.x, self.runtime.card.tasks['embeddings'],
                                       clamp=self.clamp_speed)
        except TaskEmbeddingError as error:
            self._refuse(f'cmd_vel linear.x = {msg.linear.x}: {error}')
            return
        self._apply(command)

    def _apply(self, command: str) -> str | None:
        """Set the runtime's task; log and count a refusal (the current task stays)."""
        if self.runtime is None:
            return 'no policy is configured'
        try:
            described = self.runtime.set_task(command)
        except ValueError as error:
            return self._refuse(f"task '{command}': {error}")
        self.node.get_logger().info(f'task: {described}')
        self._announce()
        return None

    def _refuse(self, reason: str) -> str:
        self.refused += 1
        self.node.get_logger().warning(f'refusing {reason}; keeping task {self.runtime.task}',
                                       throttle_duration_sec=1.0)
        return reason

    def _announce(self) -> None:
        msg = Float64MultiArray(data=self.runtime.task_embedding.tolist())
        msg.layout.dim = [MultiArrayDimension(label=self.runtime.task, size=len(msg.data),
                                              stride=len(msg.data))]
        self._state_pub.publish(msg)
