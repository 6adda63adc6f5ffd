"""The policy contract end to end: a two-input, two-output policy registered here, outside the
package, goes through TD3 training, export, ONNX Runtime and the controller node over DDS.

It proves the seams: the trainer, exporter, runtime and nodes are not edited for it; the graph's
second input (the synergy membership) is fed by name from the card; its second output (synergy
activations) is published by the node.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rclpy
import torch
from std_msgs.msg import Float64MultiArray
from torch import nn

from synergy_control.export.trained import export_checkpoint
from synergy_control.policies import POLICIES, PolicyBuilder, register_policy
from synergy_control.policies.networks import TwinCritic
from synergy_control.ros import qos
from synergy_control.ros.launch_plan import sim_plan
from synergy_control.runtime import PolicyRuntime
from synergy_control.settings import POSITIVE, option
from synergy_control.sim_runner import instantiate
from synergy_control.synergy import SynergyStructure
from synergy_control.training import train

STRUCTURE = SynergyStructure((0, 0, 0, 1, 1, 1), (0, 3))  # one synergy per walker leg


class SynergyMLP(nn.Module):
    """obs → L synergy activations z → actions tanh(membership · z · gain)."""

    def __init__(self, obs_dim: int, membership: np.ndarray, width: int):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(obs_dim, width), nn.ReLU(),
                                   nn.Linear(width, membership.shape[1]), nn.Tanh())
        self.gain = nn.Parameter(torch.ones(membership.shape[0]))
        self.register_buffer('membership', torch.tensor(membership, dtype=torch.float32))

    def both(self, obs: torch.Tensor, membership: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
        synergy = self.trunk(obs)
        return torch.tanh((synergy @ membership.T) * self.gain), synergy

    def forward(self, obs: torch.Tensor, robot: torch.Tensor | None = None) -> torch.Tensor:
        return self.both(obs, self.membership)[0]

    def deterministic(self, obs: torch.Tensor,
                      robot: torch.Tensor | None = None) -> torch.Tensor:
        return self(obs)


class TwoInputGraph(nn.Module):
    """Export form: (obs, membership) → (action, synergy), normaliser baked in."""

    def __init__(self, normalizer: nn.Module, actor: SynergyMLP):
        super().__init__()
        self.normalizer, self.actor = normalizer, actor

    def forward(self, obs: torch.Tensor, membership: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.actor.both(self.normalizer(obs), membership)


@pytest.fixture
def synergy_mlp():
    """Register 'synergy_mlp' for one test, as a method outside the package would."""

    @register_policy('synergy_mlp')
    class SynergyMLPPolicy(PolicyBuilder):
        @dataclass
        class Settings:
            width: int = option(16, POSITIVE)

        def make_actor(self, kind):
            assert kind == 'deterministic'
            return SynergyMLP(self.context.obs_dim, STRUCTURE.membership, self.settings.width)

        def make_critic(self):
            return TwinCritic(self.context.obs_dim, self.context.act_dim, [32])

        def export_module(self, actor, normalizer, robot):
            return TwoInputGraph(normalizer, actor)

        def export_spec(self, robot):
            obs_dim, act_dim = self.context.obs_dims[robot], self.context.act_dims[robot]
            return {'inputs': [{'name': 'obs', 'shape': ['batch', obs_dim],
                                'source': 'observation'},
                               {'name': 'membership', 'shape': [act_dim, STRUCTURE.count],
                                'source': 'synergy.membership'}],
                    'outputs': [{'name': 'action', 'shape': ['batch', act_dim], 'role': 'action'},
                                {'name': 'synergy', 'shape': ['batch', STRUCTURE.count],
                                 'role': 'synergy_activations'}],
                    'synergy': STRUCTURE.to_card(converged=True), 'tasks': None}

    yield
    del POLICIES.entries['synergy_mlp']


@pytest.fixture
def exported(synergy_mlp, tmp_path, smoke_config) -> Path:
    """Train the registered policy for 300 TD3 steps and export it."""
    config = smoke_config('td3', policy={'name': 'synergy_mlp', 'width': 16})
    run = train(config=config, run_dir=str(tmp_path / 'run'), progress=False)
    out = tmp_path / 'synergy_mlp.onnx'
    export_checkpoint(run, out)
    return out


def test_trained_two_input_policy_is_fed_by_name_and_served(exported, ros_graph):
    runtime = PolicyRuntime(exported)
    card = runtime.card
    assert [i['name'] for i in card.onnx['inputs']] == ['obs', 'membership']
    assert runtime.synergy_count == 2 and card.synergy['labels'] == list(STRUCTURE.labels)

    # the runtime feeds the card's membership: with each leg in the other leg's synergy the
    # same graph computes other actions, so the constant really is an input of the graph
    env_state = runtime.robot.model.qpos0, np.zeros(runtime.robot.model.nv)
    fed = runtime.act(*env_state)
    np.testing.assert_array_equal(runtime._feed['membership'], STRUCTURE.membership)
    swapped = {**runtime._feed, 'membership': STRUCTURE.membership[:, ::-1].astype(np.float32),
               'obs': runtime.observe(*env_state).astype(np.float32)[None]}
    action, synergy = runtime.session.run(None, swapped)
    np.testing.assert_allclose(synergy[0], fed.synergy, rtol=1e-6)
    assert not np.allclose(action[0], fed.action)

    # the controller node runs it over DDS and publishes the L activations
    plan = sim_plan('walker_7_main', exported, 'lockstep', publish_markers=0.0)
    bridge, controller = (ros_graph.add(instantiate(spec, ros_graph.context)) for spec in plan)
    probe = ros_graph.add(rclpy.create_node('activations_probe', context=ros_graph.context))
    seen: list[list[float]] = []
    probe.create_subscription(Float64MultiArray, '/synergy_controller/synergy_activations',
                              lambda msg: seen.append(list(msg.data)), qos.EVENTS)
    assert ros_graph.spin_until(lambda: len(seen) >= 30)
    assert all(len(values) == 2 and np.all(np.abs(values) <= 1.0) for values in seen)
    assert controller.counters['policy_commands'] >= 30
    assert controller.runtime.card.name == 'synergy_mlp'
