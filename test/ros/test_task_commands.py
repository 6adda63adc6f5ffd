"""A multi-task (EAR) policy's task over ROS: parameter, topic, velocity command, lockstep."""

from __future__ import annotations

import numpy as np
import pytest
import rclpy
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.parameter import Parameter
from std_msgs.msg import Float64MultiArray, String

from synergy_control.evaluation import evaluate
from synergy_control.ros import qos
from synergy_control.ros.launch_plan import shipped_policies, sim_plan
from synergy_control.ros.task_commands import TASK_STATE
from synergy_control.ros.topics import ODOM_TOPIC
from synergy_control.runtime import read_card
from synergy_control.sim_runner import instantiate, run_sim


def test_lockstep_return_on_a_task_equals_the_offline_return(ear_policy, local_dds):
    for task, command in [('vel:5', 'vel:5'), ('vel:2', 'vel:1 vel:3 0.5')]:
        summary = run_sim(policy=ear_policy, mode='lockstep', episodes=1, seed=4, status=False,
                          task=task)
        offline = evaluate(ear_policy, episodes=1, seed=4, task=task)
        assert offline['command'] == command
        (episode,) = summary['episodes']
        assert episode['length'] == offline['mean_length'] == 200  # the vel task's length
        assert episode['return'] == pytest.approx(offline['mean_return'], rel=1e-6)


def test_task_plan_splits_simulator_task_and_command(ear_policy, policies):
    bridge, controller = sim_plan(policy=ear_policy, task='vel:2')
    assert bridge.parameters['task'] == 'vel:2'
    assert controller.parameters['task'] == 'vel:1 vel:3 0.5'
    bridge, controller = sim_plan(policy=ear_policy, task='vel:1 vel:5 0.3')
    assert bridge.parameters['task'] == '' and controller.parameters['task'] == 'vel:1 vel:5 0.3'
    with pytest.raises(ValueError, match=r'outside the trained range \[1, 5\]'):
        sim_plan(policy=ear_policy, task='vel:8')
    with pytest.raises(ValueError, match="unknown task 'vel:4'"):
        sim_plan(policy=ear_policy, task='vel:4 vel:5 0.5')
    with pytest.raises(ValueError, match='takes no task'):
        sim_plan(policy=policies['half_cheetah'], task='vel:3')


class Probe:
    """Publishes task commands and velocity commands, records the announced task."""

    def __init__(self, graph):
        self.node = graph.add(rclpy.create_node('task_probe', context=graph.context))
        self.task = self.node.create_publisher(String, '/synergy_controller/task', qos.EVENTS)
        self.cmd_vel = self.node.create_publisher(Twist, '/cmd_vel', qos.EVENTS)
        self.announced: list[tuple[str, list[float]]] = []
        self.node.create_subscription(
            Float64MultiArray, '/synergy_controller/task_embedding',
            lambda m: self.announced.append((m.layout.dim[0].label, list(m.data))), TASK_STATE)

    def speed(self, value: float) -> None:
        msg = Twist()
        msg.linear.x = value
        self.cmd_vel.publish(msg)


def test_task_follows_parameter_topic_and_velocity_command(ear_policy, ros_graph):
    embeddings = read_card(ear_policy).tasks['embeddings']
    _, spec = sim_plan(policy=ear_policy, mode='lockstep')
    controller = ros_graph.add(instantiate(spec, ros_graph.context))
    probe = Probe(ros_graph)
    runtime = controller.runtime
    # the default task, announced to a subscriber that joined after it was published
    assert ros_graph.spin_until(lambda: probe.announced)
    assert probe.announced[-1][0] == 'vel:3'
    np.testing.assert_allclose(probe.announced[-1][1], embeddings['vel:3'], atol=1e-6)

    result = controller.set_parameters([Parameter('task', value='vel:5')])[0]
    assert result.successful and runtime.task == 'vel:5'
    for bad, reason in [('vel:9', "unknown task 'vel:9'"), ('[0, 0, 0]', 'zero'),
                        ('vel:1 vel:5 7', 'beta')]:
        result = controller.set_parameters([Parameter('task', value=bad)])[0]
        assert not result.successful and reason in result.reason
        assert runtime.task == 'vel:5'  # the current task stays
    assert controller.get_parameter('task').value == 'vel:5'

    probe.task.publish(String(data='vel:1 vel:5 0.5'))
    assert ros_graph.spin_until(lambda: runtime.task == 'vel:1 vel:5 0.5')
    middle = np.add(embeddings['vel:1'], embeddings['vel:5'])
    np.testing.assert_allclose(runtime.task_embedding, middle / np.linalg.norm(middle),
                               atol=1e-6)
    refused = controller.tasks.refused
    probe.task.publish(String(data='[1, nan, 0]'))
    assert ros_graph.spin_until(lambda: controller.tasks.refused == refused + 1)
    assert runtime.task == 'vel:1 vel:5 0.5'

    probe.speed(2.0)
    assert ros_graph.spin_until(lambda: runtime.task == 'vel:1 vel:3 0.5')
    probe.speed(7.0)  # outside [1, 5]: refused, logged, the task stays
    assert ros_graph.spin_until(lambda: controller.tasks.refused == refused + 2)
    assert runtime.task == 'vel:1 vel:3 0.5'
    assert controller.set_parameters([Parameter('clamp_speed', value=True)])[0].successful
    probe.speed(7.0)
    assert ros_graph.spin_until(lambda: runtime.task == 'vel:5')
    assert ros_graph.spin_until(lambda: probe.announced[-1][0] == 'vel:5')


@pytest.mark.parametrize('which, task, message', [
    ('ear', 'vel:9', "parameter 'task': unknown task 'vel:9'"),
    ('plain', 'vel:3', "parameter 'task' is 'vel:3' but the policy takes no task")])
def test_a_bad_task_parameter_fails_configuration_naming_it(ear_policy, policies, ros_graph,
                                                            which, task, message):
    policy = ear_policy if which == 'ear' else policies['half_cheetah']
    _, spec = sim_plan(policy=policy)
    spec.parameters['task'] = task
    controller = ros_graph.add(instantiate(spec, ros_graph.context))
    assert controller.lifecycle_state == 'unconfigured'
    assert message in controller.last_error


def test_a_velocity_command_moves_the_measured_speed_toward_it(ros_graph):
    """The shipped HalfCheetah-Vel policy, lockstep over DDS: 1 m/s, then cmd_vel 4 m/s.

    The speed is measured from the odometry the bridge publishes (world x over sim time),
    over a window of each half of one 200-step episode; the command changes in between.
    """
    policy = shipped_policies()['half_cheetah']
    plan = sim_plan(policy=policy, mode='lockstep', task='vel:1', publish_markers=0.0)
    bridge, controller = (ros_graph.add(instantiate(spec, ros_graph.context)) for spec in plan)
    probe = Probe(ros_graph)
    track: list[tuple[float, float]] = []  # (sim seconds, world x) of episode 0
    probe.node.create_subscription(
        Odometry, f'/{ODOM_TOPIC}', lambda m: track.append(
            (m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec, m.pose.pose.position.x)),
        qos.STATE_SUBSCRIBER)

    def speed(start: float, end: float) -> float:
        (t0, x0), *_, (t1, x1) = [(t, x) for t, x in track if start <= t <= end]
        return (x1 - x0) / (t1 - t0)

    assert ros_graph.spin_until(lambda: track and track[-1][0] >= 5.0, 60.0)
    assert controller.runtime.task == 'vel:1'
    probe.speed(4.0)
    assert ros_graph.spin_until(lambda: controller.runtime.task == 'vel:4', 10.0)
    assert track[-1][0] < 6.0  # the command took effect in the first half of the second half
    assert ros_graph.spin_until(lambda: track[-1][0] >= 9.5, 60.0)
    assert bridge.episode == 0
    slow, fast = speed(2.5, 5.0), speed(7.0, 9.5)
    print(f'measured {slow:.2f} m/s at 1 m/s, {fast:.2f} m/s at 4 m/s')
    assert abs(slow - 1.0) < 0.5
    assert abs(fast - 4.0) < 1.0 and fast - slow > 2.0
