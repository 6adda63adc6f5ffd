"""Two namespaced sim graphs in one domain: each controller drives only its own bridge."""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node

from synergy_control.ros import qos
from synergy_control.ros.launch_plan import sim_plan
from synergy_control.sim_runner import instantiate


def _node_names(infos) -> list[str]:
    return sorted(f"{info.node_namespace.rstrip('/')}/{info.node_name}" for info in infos)


def test_two_namespaced_sim_graphs_share_a_domain(policies, ros_graph):
    """Different robots (6 and 3 actuators): a command crossing graphs would be refused."""
    robots = {'robot1': 'walker_7_main', 'robot2': 'hopper_4'}
    graphs = {}
    for namespace, robot in robots.items():
        plan = sim_plan(robot, policies[robot], 'lockstep', namespace=namespace,
                        publish_markers=0.0)
        graphs[namespace] = [ros_graph.add(instantiate(spec, ros_graph.context))
                             for spec in plan]
    assert ros_graph.spin_until(
        lambda: all(bridge.steps >= 200 for bridge, _ in graphs.values()), 60.0)
    probe = ros_graph.add(Node('graph_probe', context=ros_graph.context))  # no remappings
    statuses = set()
    probe.create_subscription(DiagnosticArray, '/diagnostics', lambda msg: statuses.update(
        status.name for status in msg.status), qos.EVENTS)
    for namespace, (bridge, controller) in graphs.items():
        assert bridge.counters['refused_commands'] == 0
        assert controller.counters['invalid_states'] == 0
        assert controller.counters['policy_commands'] >= 200
        assert _node_names(probe.get_publishers_info_by_topic(
            f'/{namespace}/effort_controller/commands')) == [f'/{namespace}/synergy_controller']
        # Each controller's time source reads its own graph's clock.
        assert ros_graph.spin_until(lambda: _node_names(probe.get_subscriptions_info_by_topic(
            f'/{namespace}/clock')) == [f'/{namespace}/synergy_controller'])
        assert _node_names(probe.get_publishers_info_by_topic(f'/{namespace}/clock')) == \
            [f'/{namespace}/sim_bridge']
    assert _node_names(probe.get_publishers_info_by_topic('/clock')) == []
    # /diagnostics is global: each status names its node with the namespace.
    assert ros_graph.spin_until(lambda: {'/robot1/sim_bridge: simulation',
                                         '/robot2/synergy_controller: control'} <= statuses)
    assert probe.get_publishers_info_by_topic('/effort_controller/commands') == []
