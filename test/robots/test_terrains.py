"""Generated terrains: the heightfield follows its profile, the walker stands and meets it."""

import json
from pathlib import Path

import mujoco
import numpy as np
import pytest

from synergy_control.cli import main
from synergy_control.envs import make_env
from synergy_control.robots import get_robot
from synergy_control.robots.terrains import Terrain
from synergy_control.rollout import rollout
from synergy_control.runtime import PolicyRuntime

TERRAINS = ('walker_7_slope', 'walker_7_rough', 'walker_7_stairs')
WALKER = Path(__file__).resolve().parents[2] / 'models' / 'td3' / 'walker_td3.onnx'


def ground_height(model: mujoco.MjModel, data: mujoco.MjData, x: float) -> float:
    """Height of the first geom hit by a ray cast straight down at (x, 0) from 5 m."""
    geomid = np.zeros(1, dtype=np.int32)
    distance = mujoco.mj_ray(model, data, np.array([x, 0.0, 5.0]), np.array([0.0, 0.0, -1.0]),
                             None, 1, -1, geomid)
    return 5.0 - distance


def test_robots_lists_the_terrain_variants(capsys):
    assert main(['robots', '--family', 'walker_terrain', '--json']) == 0
    listed = json.loads(capsys.readouterr().out)['walker_terrain']['variants']
    assert [v['name'] for v in listed] == list(TERRAINS)
    flat = get_robot('walker_7_main')
    for variant in listed:  # the same walker: joints, gear, control period
        assert variant['joint_names'] == flat.joint_names
        assert variant['control_period'] == flat.control_period


@pytest.mark.parametrize('variant', TERRAINS)
def test_ground_follows_the_profile(variant):
    robot = get_robot(variant)
    terrain = next(v.terrain for v in robot.family.variants if v.name == variant)
    x, h = terrain.profile()
    data = mujoco.MjData(robot.model)
    data.qpos[robot.root.qpos_adr[0]] = 1000.0  # the walker out of the rays' way
    mujoco.mj_forward(robot.model, data)
    # sample the middle of profile cells (hfield cells interpolate between samples)
    picks = np.linspace(0, len(x) - 2, 60).astype(int)
    for i in picks:
        if h[i] == h[i + 1]:
            assert ground_height(robot.model, data, (x[i] + x[i + 1]) / 2) == \
                pytest.approx(h[i], abs=1e-6)
    assert h.max() > 0 and np.all(h[x < terrain.flat_start] == 0)
    # within reach of an early policy, whose walker falls about 1.5 m from the start
    assert h[x < 1.0].max() > 0
    assert np.all(h[x < 0.3] == 0)  # the feet stand on level ground at every reset


@pytest.mark.parametrize('variant', TERRAINS)
def test_walker_stands_at_the_start_and_steps_onto_the_terrain(variant):
    env = make_env(variant)
    env.reset(seed=0)
    assert env.is_healthy()
    for _ in range(20):  # standing still with no torque: it settles onto the ground
        env.step(np.zeros(6))
    assert env.data.ncon > 0 and env.robot.torso_height(env.data.qpos) > 0.8
    # the flat-ground walker policy walks onto the terrain and touches its raised parts
    runtime = PolicyRuntime(WALKER, 'walker_7_main')
    contacts = []

    def policy(_obs):
        contacts.extend(env.data.contact.pos[:env.data.ncon, 2])
        return runtime.act(env.data.qpos, env.data.qvel).action
    episode = rollout(env, policy, seed=0, max_steps=300)
    assert episode.distance > 3.0 and max(contacts) > 0.05


def test_terrain_parameters_are_checked():
    with pytest.raises(ValueError, match="terrain kind 'lava'"):
        Terrain('lava', 0.1)
    with pytest.raises(ValueError, match='height must be in'):
        Terrain('slope', 0.9)
    stairs = Terrain('stairs', 0.32, steps=4)
    levels = np.unique(stairs.profile()[1])
    np.testing.assert_allclose(levels, [0.0, 0.08, 0.16, 0.24, 0.32])
