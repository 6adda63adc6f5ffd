"""What the bridge offers besides states: clock, markers, episodes, the reset service."""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticStatus
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock
from std_srvs.srv import Trigger
from visualization_msgs.msg import MarkerArray

from synergy_control.ros import qos
from synergy_control.ros.conversions import GeomMarkers, stamp_to_ns
from synergy_control.ros.monitor import parse_episode
from synergy_control.ros.sim_bridge import SimBridge
from synergy_control.ros.topics import EPISODE_TOPIC


def test_bridge_topics_and_reset_service(ros_graph):
    bridge = ros_graph.add(SimBridge(context=ros_graph.context, parameter_overrides=[
        Parameter('robot', value='hopper_4'), Parameter('seed', value=11),
        Parameter('publish_markers', value=20.0)]))
    seen: dict[str, list] = {'clock': [], 'markers': [], 'odom': [], 'episode': []}
    probe = ros_graph.add(Node('probe', context=ros_graph.context))
    probe.create_subscription(Clock, '/clock', seen['clock'].append, qos.CLOCK)
    probe.create_subscription(MarkerArray, '/sim/markers', seen['markers'].append, qos.MARKERS)
    probe.create_subscription(Odometry, '/odom', seen['odom'].append, qos.STATE_SUBSCRIBER)
    probe.create_subscription(DiagnosticStatus, EPISODE_TOPIC, seen['episode'].append,
                              qos.EVENTS)
    assert ros_graph.spin_until(lambda: len(seen['clock']) > 5 and seen['markers']
                                and seen['odom'])
    times = [stamp_to_ns(c.clock) for c in seen['clock']]
    assert times == sorted(times) and times[-1] > times[0]
    markers = seen['markers'][-1].markers
    assert len(markers) == len(GeomMarkers(bridge.robot.model)) > 0
    assert {m.header.frame_id for m in markers} == {'world'}
    assert seen['odom'][-1].child_frame_id == 'torso'

    client = probe.create_client(Trigger, '/sim/reset')
    assert client.wait_for_service(timeout_sec=5.0)
    future = client.call_async(Trigger.Request())
    assert ros_graph.spin_until(future.done) and future.result().success
    assert ros_graph.spin_until(lambda: any(parse_episode(e)['end'] == 'reset'
                                            for e in seen['episode']))
    reset = next(parse_episode(e) for e in seen['episode'] if parse_episode(e)['end'] == 'reset')
    assert reset['seed'] == 11 + reset['episode']
    assert bridge.episode == reset['episode'] + 1
    assert f'seed {11 + bridge.episode}' in future.result().message
