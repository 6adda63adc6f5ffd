"""Bad inputs at both nodes: refused safely, never a crash, never a non-finite command."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import SetBool

from synergy_control.card import METADATA_KEY
from synergy_control.envs import LocomotionEnv
from synergy_control.ros import qos
from synergy_control.ros.controller_state import WATCHDOG_CHECKS
from synergy_control.ros.conversions import (command_msg, joint_state_msg, odometry_msg,
                                             stamp_from_ns, stamp_to_ns, status_values)
from synergy_control.ros.sim_bridge import SimBridge
from synergy_control.ros.synergy_controller import SynergyController
from synergy_control.ros.topics import DEFAULT_COMMAND_TOPIC
from synergy_control.runtime import PolicyRuntime

ROBOT = 'walker_7_main'
ROOT = Path(__file__).resolve().parents[2]
ALL = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)


def _overrides(**parameters) -> list[Parameter]:
    return [Parameter(k, value=v) for k, v in parameters.items()]


class Probe(Node):
    """Plays the robot for the controller (or the controller for the bridge), records all."""

    def __init__(self, context):
        super().__init__('probe', context=context)
        self.joint_pub = self.create_publisher(JointState, '/joint_states', qos.STATE_PUBLISHER)
        self.odom_pub = self.create_publisher(Odometry, '/odom', qos.STATE_PUBLISHER)
        self.command_pub = self.create_publisher(Float64MultiArray, DEFAULT_COMMAND_TOPIC,
                                                 qos.COMMAND)
        self.commands: list[np.ndarray] = []
        self.joint_states: list[JointState] = []
        self.diagnostics: list[dict[str, str]] = []
        self.create_subscription(Float64MultiArray, DEFAULT_COMMAND_TOPIC,
                                 lambda m: self.commands.append(np.array(m.data)), ALL)
        self.create_subscription(JointState, '/joint_states', self.joint_states.append,
                                 qos.STATE_SUBSCRIBER)
        self.create_subscription(
            DiagnosticArray, '/diagnostics',
            lambda m: self.diagnostics.extend(status_values(s) for s in m.status), ALL)


@pytest.fixture
def walker_state():
    """A mid-stride walker state and the messages that carry it."""
    env = LocomotionEnv(ROBOT)
    env.reset(seed=1)
    for _ in range(15):
        env.step(np.full(env.model.nu, 0.3))
    return env


class ControllerHarness:
    """A lockstep controller fed by a probe; each send waits for the one answer."""

    def __init__(self, graph, policy, **parameters):
        self.graph = graph
        self.controller = graph.add(SynergyController(
            context=graph.context, parameter_overrides=_overrides(
                **{'policy': str(policy), 'mode': 'lockstep', 'watchdog_timeout': 30.0,
                   **parameters})))
        self.probe = graph.add(Probe(graph.context))
        self.stamp = 0

    def send(self, joint_state: JointState, odometry: Odometry, answered: bool = True):
        """Publish one state (re-sent while unanswered: best-effort); return its answer."""
        self.stamp += 1
        joint_state.header.stamp = odometry.header.stamp = stamp_from_ns(self.stamp * 8_000_000)
        before = len(self.probe.commands)
        for _ in range(20 if answered else 2):
            self.probe.odom_pub.publish(odometry)
            self.probe.joint_pub.publish(joint_state)
            if self.graph.spin_until(lambda: len(self.probe.commands) > before, 0.2):
                break
        if not answered:
            assert len(self.probe.commands) == before
            return None
        assert len(self.probe.commands) == before + 1, 'exactly one answer per state'
        return self.probe.commands[-1]

    def check_all_commands_safe(self, runtime: PolicyRuntime) -> None:
        for command in self.probe.commands:
            assert command.shape == (runtime.robot.model.nu,)
            assert np.all(np.isfinite(command))
            assert np.all(command >= runtime.command_low) and np.all(
                command <= runtime.command_high)


def _messages(env: LocomotionEnv) -> tuple[JointState, Odometry]:
    stamp = stamp_from_ns(0)
    return (joint_state_msg(env.robot, env.data, stamp),
            odometry_msg(env.robot, env.data.qpos, env.data.qvel, stamp))


def _permuted(msg: JointState, order: list[int], extra: dict[str, float] | None = None):
    out = JointState(header=msg.header)
    out.name = [msg.name[i] for i in order] + list(extra or {})
    out.position = [msg.position[i] for i in order] + list((extra or {}).values())
    out.velocity = [msg.velocity[i] for i in order] + [0.0] * len(extra or {})
    out.effort = [msg.effort[i] for i in order] + [0.0] * len(extra or {})
    return out


def test_controller_refuses_bad_joint_states_safely(ros_graph, policies, walker_state):
    runtime = PolicyRuntime(policies[ROBOT])
    expected = runtime.act(walker_state.data.qpos, walker_state.data.qvel).commands
    harness = ControllerHarness(ros_graph, policies[ROBOT])
    assert harness.controller.lifecycle_state == 'active'
    joints, odom = _messages(walker_state)
    n = len(joints.name)
    zero = np.zeros(n)

    assert np.allclose(harness.send(joints, odom), expected, atol=1e-9)
    reordered = _permuted(joints, list(reversed(range(n))))
    assert np.allclose(harness.send(reordered, odom), expected, atol=1e-9)
    extra = _permuted(joints, [2, 0, 1, 5, 3, 4], {'camera_pan': 0.7, 'gripper': math.nan})
    assert np.allclose(harness.send(extra, odom), expected, atol=1e-9)

    bad = []
    nan_position = _permuted(joints, list(range(n)))
    nan_position.position[2] = math.nan
    bad.append(nan_position)
    inf_velocity = _permuted(joints, list(range(n)))
    inf_velocity.velocity[4] = -math.inf
    bad.append(inf_velocity)
    bad.append(_permuted(joints, [0, 1, 2, 3, 4]))  # foot_left_joint missing
    short = _permuted(joints, list(range(n)))
    short.velocity = short.velocity[:3]
    bad.append(short)
    bad.append(JointState())
    for msg in bad:
        assert np.array_equal(harness.send(msg, odom), zero)
    nan_odom = Odometry(header=odom.header, pose=odom.pose, twist=odom.twist)
    nan_odom.pose.pose.position.z = math.nan
    assert np.array_equal(harness.send(joints, nan_odom), zero)

    counters = harness.controller.counters
    assert counters['invalid_states'] == len(bad) + 1
    assert counters['policy_commands'] == 3 and counters['safe_commands'] == len(bad) + 1
    harness.check_all_commands_safe(runtime)


def test_controller_refuses_absurd_but_finite_states(ros_graph, policies, walker_state):
    harness = ControllerHarness(ros_graph, policies[ROBOT])
    joints, odom = _messages(walker_state)
    zero = np.zeros(len(joints.name))
    absurd = []
    for field in ('position', 'velocity'):
        msg = _permuted(joints, list(range(len(joints.name))))
        getattr(msg, field)[3] = 1e30
        absurd.append((msg, odom))
    high = Odometry(header=odom.header, pose=odom.pose, twist=odom.twist)
    high.pose.pose.position.z = 1e30
    absurd.append((joints, high))
    for msg, odometry in absurd:
        assert np.array_equal(harness.send(msg, odometry), zero)
    counters = harness.controller.counters
    assert counters['invalid_states'] == 3 and counters['policy_commands'] == 0


def test_a_flipped_quaternion_gives_the_same_command(ros_graph, policies, walker_state):
    harness = ControllerHarness(ros_graph, policies[ROBOT])
    joints, odom = _messages(walker_state)
    command = harness.send(joints, odom)
    flipped = Odometry(header=odom.header, pose=odom.pose, twist=odom.twist)
    q = flipped.pose.pose.orientation
    q.x, q.y, q.z, q.w = -q.x, -q.y, -q.z, -q.w
    assert np.array_equal(harness.send(joints, flipped), command)
    harness.controller.trigger_deactivate()
    harness.controller.trigger_activate()  # a new state stream: no previous orientation
    ros_graph.spin_for(0.1)  # the deactivation's zero command
    assert np.array_equal(harness.send(joints, flipped), command)


def test_controller_hold_mode_repeats_the_last_valid_command(ros_graph, policies,
                                                             walker_state):
    harness = ControllerHarness(ros_graph, policies[ROBOT], hold_mode='hold')
    joints, odom = _messages(walker_state)
    valid = harness.send(joints, odom)
    joints.position[0] = math.inf
    assert np.array_equal(harness.send(joints, odom), valid)
    assert not np.allclose(valid, 0.0)


def test_controller_enable_service_and_deactivation(ros_graph, policies, walker_state):
    harness = ControllerHarness(ros_graph, policies[ROBOT])
    joints, odom = _messages(walker_state)
    policy_command = harness.send(joints, odom)
    client = harness.probe.create_client(SetBool, '/synergy_controller/enable')
    assert client.wait_for_service(timeout_sec=5.0)
    for enable, expected in ((False, np.zeros_like(policy_command)), (True, policy_command)):
        future = client.call_async(SetBool.Request(data=enable))
        assert ros_graph.spin_until(future.done) and future.result().success
        assert np.allclose(harness.send(joints, odom), expected, atol=1e-9)

    before = len(harness.probe.commands)
    harness.controller.trigger_deactivate()
    assert harness.controller.lifecycle_state == 'inactive'
    assert ros_graph.spin_until(lambda: len(harness.probe.commands) == before + 1, 2.0)
    assert np.array_equal(harness.probe.commands[-1], np.zeros_like(policy_command))
    harness.send(joints, odom, answered=False)  # inactive: no control


def test_controller_watchdog_sends_safe_commands_when_states_stop(ros_graph, policies,
                                                                  walker_state):
    harness = ControllerHarness(ros_graph, policies[ROBOT], watchdog_timeout=0.2)
    joints, odom = _messages(walker_state)
    harness.send(joints, odom)
    before = len(harness.probe.commands)
    assert ros_graph.spin_until(lambda: len(harness.probe.commands) > before, 2.0)
    assert np.array_equal(harness.probe.commands[-1], np.zeros(len(joints.name)))
    assert harness.controller.counters['watchdog_trips'] == 1
    harness.check_all_commands_safe(harness.controller.runtime)


def test_realtime_controller_accepts_reordered_and_extra_joints(ros_graph, policies,
                                                                walker_state):
    runtime = PolicyRuntime(policies[ROBOT])
    expected = runtime.act(walker_state.data.qpos, walker_state.data.qvel).commands
    controller = ros_graph.add(SynergyController(
        context=ros_graph.context, parameter_overrides=_overrides(policy=str(policies[ROBOT]))))
    probe = ros_graph.add(Probe(ros_graph.context))
    joints, odom = _messages(walker_state)
    joints = _permuted(joints, [5, 3, 4, 0, 2, 1], {'head_tilt': 0.1})

    def publish_until(predicate) -> bool:
        def step() -> bool:
            probe.odom_pub.publish(odom)
            probe.joint_pub.publish(joints)
            return predicate()
        return ros_graph.spin_until(step, 5.0)

    assert publish_until(lambda: any(np.allclose(c, expected, atol=1e-9)
                                     for c in probe.commands))
    assert controller.counters['invalid_states'] == 0
    joints.position[0] = math.nan
    assert publish_until(lambda: controller.counters['invalid_states'] > 0)
    before = len(probe.commands)
    assert publish_until(lambda: len(probe.commands) > before + 10)
    assert all(np.array_equal(c, np.zeros(6)) for c in probe.commands[before:])


def test_realtime_controller_stops_the_policy_when_odometry_goes_stale(
        ros_graph, policies, walker_state):
    controller = ros_graph.add(SynergyController(
        context=ros_graph.context, parameter_overrides=_overrides(
            policy=str(policies[ROBOT]), watchdog_timeout=0.2)))
    probe = ros_graph.add(Probe(ros_graph.context))
    joints, odom = _messages(walker_state)

    def feed(with_odometry: bool):
        def step() -> bool:
            if with_odometry:
                probe.odom_pub.publish(odom)
            probe.joint_pub.publish(joints)
            return False
        return step

    ros_graph.spin_until(feed(True), 0.5)
    assert controller.counters['policy_commands'] > 0
    trips = controller.counters['watchdog_trips']  # 0 unless a loaded machine stalled a tick
    ros_graph.spin_until(feed(False), 1.0)  # joint states keep coming, odometry stopped
    assert controller.counters['watchdog_trips'] == trips + 1
    policy_commands = controller.counters['policy_commands']
    ros_graph.spin_until(feed(False), 0.5)
    assert controller.counters['policy_commands'] == policy_commands
    assert np.array_equal(probe.commands[-1], np.zeros(6))


def test_hold_mode_ends_the_watchdog_timeout_after_the_last_valid_state(
        ros_graph, policies, walker_state):
    """Realtime ticks reuse the newest state until it is watchdog_timeout old; then zero.

    Sending times are DDS source timestamps (one host, one clock). The slack covers delivery
    and one watchdog check: holding on after the watchdog tripped would take a whole timeout.
    """
    timeout = 0.5
    controller = ros_graph.add(SynergyController(
        context=ros_graph.context, parameter_overrides=_overrides(
            policy=str(policies[ROBOT]), hold_mode='hold', watchdog_timeout=timeout)))
    probe = ros_graph.add(Probe(ros_graph.context))
    sent: list[tuple[int, bool]] = []  # (command source timestamp, non-zero)
    probe.create_subscription(
        Float64MultiArray, DEFAULT_COMMAND_TOPIC,
        lambda m, info: sent.append((info['source_timestamp'], bool(np.any(m.data)))), ALL)
    joints, odom = _messages(walker_state)
    last_state_ns = 0

    def feed() -> bool:
        nonlocal last_state_ns
        last_state_ns = time.time_ns()
        probe.odom_pub.publish(odom)
        probe.joint_pub.publish(joints)
        return False

    ros_graph.spin_until(feed, 0.5)
    assert controller.counters['policy_commands'] > 0
    ros_graph.spin_for(2 * timeout)
    assert controller.counters['watchdog_trips'] == 1
    last_effort_ns = max(ns for ns, non_zero in sent if non_zero)
    assert last_effort_ns - last_state_ns <= (timeout + timeout / WATCHDOG_CHECKS + 0.1) * 1e9
    assert not sent[-1][1]  # and zero from then on


@pytest.mark.parametrize('policy, robot, message', [
    ('corrupt', '', 'not a valid ONNX model'),
    ('hopper_4', ROBOT, 'thigh_left_joint'),
    ('missing', '', 'does not exist'),
])
def test_controller_with_an_unusable_policy_stays_up_and_says_why(ros_graph, policies,
                                                                  policy, robot, message):
    path = policies.get(policy, policies['corrupt'].with_name('missing.onnx'))
    controller = ros_graph.add(SynergyController(
        context=ros_graph.context,
        parameter_overrides=_overrides(policy=str(path), robot=robot, diagnostics_period=0.1)))
    probe = ros_graph.add(Probe(ros_graph.context))
    assert controller.lifecycle_state == 'unconfigured'
    assert message in controller.last_error
    assert ros_graph.spin_until(lambda: any(d.get('state') == 'unconfigured'
                                            for d in probe.diagnostics), 5.0)
    assert probe.commands == []


def _solar_policy_with_centres(tmp_path, robot: str, centres: list[int] | None) -> Path:
    """The shipped SOLAR policy with ``robot``'s synergy centres edited (None: dropped)."""
    model = onnx.load(ROOT / 'models' / 'walker_solar.onnx')
    (entry,) = [e for e in model.metadata_props if e.key == METADATA_KEY]
    card = yaml.safe_load(entry.value)
    card['synergy']['variants'][robot]['centres'] = centres
    if centres is None:
        del card['synergy']['variants'][robot]['centres']
    entry.value = yaml.safe_dump(card, sort_keys=False)
    path = tmp_path / 'walker_solar_bad_centres.onnx'
    onnx.save(model, path)
    return path


def test_a_policy_that_cannot_configure_reports_error_and_opens_nothing(ros_graph, tmp_path):
    """labels [0, 1], centres [1, 0] used to pass the card, then fail configure unlogged."""
    path = _solar_policy_with_centres(tmp_path, 'walker_3_main', [1, 0])
    controller = ros_graph.add(SynergyController(
        context=ros_graph.context, parameter_overrides=_overrides(
            policy=str(path), robot='walker_3_main', diagnostics_period=0.1)))
    statuses: list[DiagnosticStatus] = []
    listener = ros_graph.add(Node('listener', context=ros_graph.context))
    listener.create_subscription(DiagnosticArray, '/diagnostics',
                                 lambda m: statuses.extend(m.status), ALL)
    assert controller.lifecycle_state == 'unconfigured'
    assert "robot 'walker_3_main': key 'synergy.centres'" in controller.last_error
    assert ros_graph.spin_until(lambda: statuses, 5.0)
    assert statuses[-1].level == DiagnosticStatus.ERROR
    assert statuses[-1].message == controller.last_error
    assert {p.topic_name for p in controller.publishers} <= {
        '/diagnostics', '/rosout', '/parameter_events', '/synergy_controller/transition_event'}


def test_a_structure_without_centres_is_refused_by_the_one_parser(ros_graph, tmp_path):
    """The node's own looser reading once took each synergy's first actuator for a centre."""
    path = _solar_policy_with_centres(tmp_path, 'walker_3_main', None)
    controller = ros_graph.add(SynergyController(
        context=ros_graph.context, parameter_overrides=_overrides(
            policy=str(path), robot='walker_3_main', diagnostics_period=0.1)))
    assert controller.lifecycle_state == 'unconfigured'
    assert ("robot 'walker_3_main': key 'synergy.centres' is missing"
            in controller.last_error), controller.last_error
    assert {p.topic_name for p in controller.publishers} <= {
        '/diagnostics', '/rosout', '/parameter_events', '/synergy_controller/transition_event'}


def test_sim_names_the_reason_a_policy_cannot_run(tmp_path, capsys, local_dds):
    from synergy_control.cli import main
    path = _solar_policy_with_centres(tmp_path, 'walker_3_main', [1, 0])
    code = main(['sim', '--robot', 'walker_3_main', '--policy', str(path), '--duration', '1'])
    err = capsys.readouterr().err
    assert code == 2 and "robot 'walker_3_main': key 'synergy.centres'" in err, err


def _bridge(graph, **parameters) -> SimBridge:
    return graph.add(SimBridge(context=graph.context, parameter_overrides=_overrides(
        robot=ROBOT, publish_markers=0.0, diagnostics_period=0.1, **parameters)))


def _refuse(graph, bridge: SimBridge, probe: Probe, commands: list[list[float]]) -> None:
    """Send bad commands one at a time (the command QoS keeps only the newest)."""
    for refused, data in enumerate(commands, start=bridge.counters['refused_commands'] + 1):
        probe.command_pub.publish(Float64MultiArray(data=data))
        assert graph.spin_until(lambda: bridge.counters['refused_commands'] == refused)


def test_bridge_refuses_bad_commands_in_realtime(ros_graph):
    bridge = _bridge(ros_graph, mode='realtime', command_timeout=30.0)
    probe = ros_graph.add(Probe(ros_graph.context))
    assert ros_graph.spin_until(lambda: probe.command_pub.get_subscription_count() > 0)
    _refuse(ros_graph, bridge, probe, [[1.0] * 5, [1.0] * 7, [math.nan] * 6,
                                       [0.0, 0.0, math.inf, 0.0, 0.0, 0.0]])
    assert ros_graph.spin_until(lambda: any(d.get('refused_commands') == '4'
                                            for d in probe.diagnostics))
    latest = probe.joint_states[-1]
    assert np.all(np.isfinite(latest.position)) and np.all(np.isfinite(latest.velocity))
    assert np.array_equal(latest.effort, np.zeros(6))  # nothing refused reached the motors
    assert np.all(np.isfinite(bridge.env.data.qpos)) and np.all(np.isfinite(bridge.env.data.qvel))

    probe.command_pub.publish(Float64MultiArray(data=[10.0] * 6))
    assert ros_graph.spin_until(
        lambda: np.allclose(probe.joint_states[-1].effort, 10.0))  # gear 100 x ctrl 0.1

    stray = ros_graph.add(Node('stray_controller', context=ros_graph.context))
    stray.create_publisher(Float64MultiArray, DEFAULT_COMMAND_TOPIC, qos.COMMAND)
    assert ros_graph.spin_until(lambda: probe.diagnostics[-1].get('command_publishers') == '2')
    assert bridge.command_publishers == ['/probe', '/stray_controller']


def test_bridge_lockstep_refuses_bad_commands_and_times_out_to_zero(ros_graph):
    bridge = _bridge(ros_graph, mode='lockstep', command_timeout=0.3)
    probe = ros_graph.add(Probe(ros_graph.context))
    assert ros_graph.spin_until(lambda: probe.command_pub.get_subscription_count() > 0
                                and probe.joint_states)
    _refuse(ros_graph, bridge, probe, [[math.nan] * 6, [1.0] * 3])
    assert bridge.steps == 0  # a refused command is no answer
    pending = stamp_to_ns(probe.joint_states[-1].header.stamp)
    # Unstamped, or stamped with a state that is not pending: answers no state, refused.
    for count, answers in enumerate((None, pending + 8_000_000, pending - 8_000_000), 1):
        probe.command_pub.publish(command_msg([5.0] * 6, answers))
        assert ros_graph.spin_until(lambda: bridge.counters['unmatched_commands'] == count)
    assert bridge.steps == 0
    probe.command_pub.publish(command_msg([5.0] * 6, pending))
    assert ros_graph.spin_until(lambda: bridge.steps == 1)
    ros_graph.spin_for(0.1)
    assert bridge.steps == 1  # exactly one step per answer
    assert ros_graph.spin_until(lambda: bridge.counters['command_timeouts'] >= 1, 3.0)
    assert ros_graph.spin_until(lambda: probe.joint_states[-1].header.stamp.nanosec > 8e6)
    assert np.array_equal(probe.joint_states[-1].effort, np.zeros(6))  # timed out: zero
    assert np.all(np.isfinite(bridge.env.data.qpos))
