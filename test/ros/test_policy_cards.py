"""Policy cards in the node graph: malformed ones stop it naming key and file; v2 graphs run."""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
import rclpy
import yaml
from rclpy.parameter import Parameter
from std_msgs.msg import Float64MultiArray

from synergy_control.card import METADATA_KEY
from synergy_control.export import export_untrained
from synergy_control.ros import qos
from synergy_control.ros.launch_plan import sim_plan
from synergy_control.ros.synergy_controller import SynergyController
from synergy_control.runtime import PolicyLoadError
from synergy_control.sim_runner import instantiate, run_sim


@pytest.fixture(params=[('action', [1, 2], "key 'action': expected a mapping"),
                        ('synergy', {'method': 'm', 'count': 'two', 'labels': [0] * 6},
                         "key 'synergy.count': expected an integer")],
                ids=['action-list', 'synergy-count-string'])
def malformed(request, policies, tmp_path):
    """The walker policy with one card key broken, and the message that must name it."""
    key, value, message = request.param
    model = onnx.load(policies['walker_7_main'])
    for entry in model.metadata_props:
        if entry.key == METADATA_KEY:
            card = yaml.safe_load(entry.value)
            card[key] = value
            entry.value = yaml.safe_dump(card)
    path = tmp_path / 'malformed.onnx'
    onnx.save(model, path)
    return path, message


@pytest.mark.parametrize('robot', [None, 'walker_7_main'], ids=['card-robot', 'given-robot'])
def test_sim_with_a_malformed_card_says_which_key(malformed, robot, local_dds):
    path, message = malformed
    with pytest.raises(PolicyLoadError, match=message) as error:
        run_sim(robot, path, mode='lockstep', duration=0.2, status=False)
    assert f'policy card {path}' in str(error.value)


def test_controller_refuses_a_malformed_card_and_says_why(malformed, ros_graph):
    path, message = malformed
    controller = ros_graph.add(SynergyController(
        context=ros_graph.context, parameter_overrides=[
            Parameter('policy', value=str(path)), Parameter('robot', value='walker_7_main')]))
    assert controller.lifecycle_state == 'unconfigured' and controller.runtime is None
    assert re.search(message, controller.last_error), controller.last_error
    assert f'policy card {path}' in controller.last_error


def test_node_feeds_a_two_input_graph_and_publishes_synergy_activations(ros_graph, tmp_path):
    policy = tmp_path / 'synergy.onnx'
    export_untrained('walker_7_main', policy, synergies=2)
    plan = sim_plan('walker_7_main', policy, 'lockstep', publish_markers=0.0)
    bridge, controller = (ros_graph.add(instantiate(spec, ros_graph.context)) for spec in plan)
    probe = ros_graph.add(rclpy.create_node('synergy_probe', context=ros_graph.context))
    seen = []
    probe.create_subscription(Float64MultiArray, '/synergy_controller/synergy_activations',
                              lambda msg: seen.append(list(msg.data)), qos.EVENTS)
    assert ros_graph.spin_until(lambda: len(seen) >= 20)
    assert all(len(values) == 2 and np.all(np.isfinite(values)) for values in seen)
    assert controller.counters['policy_commands'] >= 20
