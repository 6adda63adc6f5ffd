"""A SAR-RL policy on a terrain walker over ROS: lockstep equals offline, synergies published."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from rclpy.node import Node
from std_msgs.msg import Float64MultiArray
from visualization_msgs.msg import MarkerArray

from synergy_control.evaluation import evaluate
from synergy_control.export.trained import export_checkpoint
from synergy_control.ros import qos
from synergy_control.ros.launch_plan import sim_plan
from synergy_control.runtime import PolicyRuntime
from synergy_control.sim_runner import instantiate, run_sim

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def sar_policy(tmp_path_factory) -> Path:
    """A short SAR-RL run on the stairs through the committed flat-ground walker basis."""
    from synergy_control.training import config_from_dict
    from synergy_control.training.runner import StopRequest, Trainer
    directory = tmp_path_factory.mktemp('sar')
    data = yaml.safe_load((REPO / 'config/train/humanoid_sar_smoke.yaml').read_text())
    data.update(robot='walker_7_stairs', total_steps=200, eval_every=1000)
    data['policy']['basis'] = str(REPO / 'models/sar/walker_basis.yaml')
    trainer = Trainer(config_from_dict(data), directory / 'run', 'cpu', progress=False)
    try:
        trainer.run(StopRequest())
    finally:
        trainer.close()
    export_checkpoint(directory / 'run', directory / 'sar.onnx')
    return directory / 'sar.onnx'


def test_lockstep_return_on_the_terrain_equals_offline(sar_policy, local_dds):
    summary = run_sim(policy=sar_policy, mode='lockstep', seed=2, episodes=1, status=False)
    offline = evaluate(sar_policy, episodes=1, seed=2)
    (episode,) = summary['episodes']
    assert summary['robot'] == offline['robot'] == 'walker_7_stairs'
    assert episode['length'] == offline['mean_length']
    assert episode['return'] == pytest.approx(offline['mean_return'], rel=1e-6)


def test_node_publishes_the_synergy_values(sar_policy, ros_graph):
    for spec in sim_plan(policy=sar_policy, mode='lockstep'):
        ros_graph.add(instantiate(spec, ros_graph.context))
    listener = ros_graph.add(Node('listener', context=ros_graph.context))
    activations: list[np.ndarray] = []
    drawn: list[MarkerArray] = []
    listener.create_subscription(Float64MultiArray, '/synergy_controller/synergy_activations',
                                 lambda m: activations.append(np.array(m.data)), qos.EVENTS)
    listener.create_subscription(MarkerArray, '/synergy_controller/synergy_markers',
                                 drawn.append, qos.EVENTS)
    assert ros_graph.spin_until(lambda: len(activations) >= 5 and drawn, 20.0)
    # the basis is drawn too: every limb in its dominant synergy, no centres (a basis has none)
    assert drawn[-1].markers and {m.ns for m in drawn[-1].markers} == {'synergies'}
    assert PolicyRuntime(sar_policy).synergy_count == 3
    assert {len(a) for a in activations} == {3}
    assert all(np.all(np.abs(a) <= 1.0) for a in activations)


def test_humanoid_lockstep_return_equals_offline_from_the_first_step(local_dds):
    """Gymnasium's reset noise leaves the first root quaternion off unit length, odometry
    carries a unit one: the runtime must feed both paths the same first observation."""
    policy = REPO / 'models/sar/humanoid_play_250k.onnx'
    summary = run_sim('humanoid', policy=policy, mode='lockstep', seed=7, episodes=1,
                      status=False)
    offline = evaluate(policy, episodes=1, seed=7)
    (episode,) = summary['episodes']
    assert episode['length'] == offline['mean_length']
    assert episode['return'] == pytest.approx(offline['mean_return'], rel=1e-9)
