"""One policy for every walker variant over ROS: lockstep equals offline, activations, markers."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from rclpy.node import Node
from std_msgs.msg import Float64MultiArray
from visualization_msgs.msg import MarkerArray

from synergy_control.envs import LocomotionEnv
from synergy_control.evaluation import run_episode
from synergy_control.export import export_untrained
from synergy_control.methods.solar.untrained import export_untrained_set
from synergy_control.robots import FAMILIES
from synergy_control.ros import launch_plan
from synergy_control.ros import qos
from synergy_control.ros.launch_plan import sim_plan
from synergy_control.ros.markers import brightness
from synergy_control.ros.topics import SYNERGY_MARKERS_TOPIC
from synergy_control.runtime import PolicyLoadError, PolicyRuntime
from synergy_control.sim_runner import instantiate, run_sim

WALKERS = [v.name for v in FAMILIES['walker'].variants]


@pytest.fixture(scope='module')
def set_policy(tmp_path_factory):
    """One untrained SOLAR-shaped graph for every walker variant (zero-shot ones included)."""
    path = tmp_path_factory.mktemp('set') / 'walker_solar.onnx'
    export_untrained_set(WALKERS, path, seed=1)
    return path


@pytest.mark.parametrize('robot', WALKERS)
def test_lockstep_return_equals_offline_for_every_variant(set_policy, local_dds, robot):
    summary = run_sim(robot, set_policy, mode='lockstep', seed=5, episodes=1, status=False)
    runtime = PolicyRuntime(set_policy, robot)
    offline = run_episode(runtime, LocomotionEnv(runtime.robot, obs_mode='modular'), seed=5)
    (episode,) = summary['episodes']
    assert summary['robot'] == robot
    assert episode['length'] == offline.length
    assert episode['return'] == pytest.approx(offline.episode_return, rel=1e-6)
    assert not any(summary['faults'].values()), summary['faults']


def test_launch_plan_picks_the_variant_and_refuses_a_robot_not_served(set_policy):
    bridge, controller = sim_plan('walker_3_main', set_policy)
    assert bridge.parameters['robot'] == controller.parameters['robot'] == 'walker_3_main'
    with pytest.raises(PolicyLoadError, match=r"serves robots \['walker_2_main'.*not 'hopper_4'"):
        sim_plan('hopper_4', set_policy)


def test_node_publishes_activations_and_markers_lit_by_them(set_policy, ros_graph):
    bridge, controller = (ros_graph.add(instantiate(spec, ros_graph.context))
                          for spec in sim_plan('walker_7_main', set_policy, 'lockstep'))
    listener = ros_graph.add(Node('listener', context=ros_graph.context))
    activations, frames = [], []
    listener.create_subscription(Float64MultiArray, '/synergy_controller/synergy_activations',
                                 lambda m: activations.append(np.array(m.data)), qos.EVENTS)
    listener.create_subscription(MarkerArray, SYNERGY_MARKERS_TOPIC, frames.append, qos.MARKERS)
    assert ros_graph.spin_until(lambda: len(frames) >= 3 and activations, 20.0)
    structure = controller.runtime.card.structure()  # the structure drawn
    assert {len(a) for a in activations} == {structure.count}
    frame = frames[-1]
    limbs = [m for m in frame.markers if m.ns == 'synergies']
    centres = [m for m in frame.markers if m.ns == 'synergies/centres']
    assert len(centres) == structure.count and limbs
    assert {m.header.frame_id for m in frame.markers} == {'world'}
    # each limb marker: its synergy's colour at a brightness in [idle, 1] that some
    # published activation vector explains
    lit = [brightness(a) for a in activations]
    colours = np.array([[m.color.r, m.color.g, m.color.b] for m in limbs])
    assert any(np.allclose(colours, controller._markers.colours(a), atol=1e-6)
               for a in activations), 'marker colours follow no published activation'
    assert all(np.all((b >= 0.25) & (b <= 1.0)) for b in lit)


def test_shipped_set_policy_serves_the_robots_without_a_policy_of_their_own(
        set_policy, tmp_path, monkeypatch):
    models = tmp_path / 'models'
    models.mkdir()
    shutil.copy(set_policy, models / 'a_walker_solar.onnx')
    export_untrained('walker_7_main', models / 'z_walker_7.onnx')
    monkeypatch.setattr(launch_plan, 'package_path', lambda relative: tmp_path / relative)
    shipped = launch_plan.shipped_policies()
    assert shipped['walker_7_main'] == models / 'z_walker_7.onnx'
    others = {shipped[robot] for robot in WALKERS if robot != 'walker_7_main'}
    assert others == {models / 'a_walker_solar.onnx'}
