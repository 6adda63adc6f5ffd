"""The shipped policies: valid cards, and the ROS loop reproduces their offline returns."""

from __future__ import annotations

from pathlib import Path

import pytest

from synergy_control.envs import LocomotionEnv
from synergy_control.evaluation import run_episode
from synergy_control.runtime import PolicyRuntime, read_card
from synergy_control.sim_runner import run_sim

MODELS = sorted((Path(__file__).resolve().parents[2] / 'models').glob('*.onnx'))
#: Every (model, robot) a shipped model serves: a multi-robot card serves each of its variants.
SERVED = [(model, robot) for model in MODELS for robot in read_card(model).robots]


def test_models_are_shipped():
    assert any(m.stem == 'walker_solar' for m in MODELS)


@pytest.mark.parametrize('model, robot', SERVED, ids=[f'{m.stem}-{r}' for m, r in SERVED])
def test_lockstep_ros_loop_reproduces_the_offline_return(model, robot, local_dds):
    runtime = PolicyRuntime(model, robot)
    assert runtime.card.method != 'untrained'
    summary = run_sim(robot, policy=model, mode='lockstep', seed=7, episodes=1, status=False)
    offline = run_episode(runtime, LocomotionEnv(runtime.robot), seed=7)
    (episode,) = summary['episodes']
    assert episode['length'] == offline.length
    assert episode['return'] == pytest.approx(offline.episode_return, rel=0.02)
    assert not any(summary['faults'].values()), summary['faults']
