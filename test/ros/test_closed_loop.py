"""The graph of the launch plan, closed over DDS: lockstep equals offline, realtime paces."""

from __future__ import annotations

import time

import numpy as np
import pytest

from synergy_control.envs import LocomotionEnv
from synergy_control.evaluation import rollout
from synergy_control.launch_plan import EXECUTORS, sim_plan
from synergy_control.runtime import PolicyLoadError, PolicyRuntime
from synergy_control.sim_runner import instantiate, run_sim


@pytest.mark.parametrize('executor', EXECUTORS)
def test_lockstep_episode_return_equals_offline_rollout(policies, local_dds, tmp_path,
                                                        executor):
    summary = run_sim('half_cheetah', policies['half_cheetah'], mode='lockstep', seed=3,
                      episodes=1, status=False, json_output=tmp_path / 'summary.json',
                      executor=executor)
    runtime = PolicyRuntime(policies['half_cheetah'])
    offline = rollout(runtime, LocomotionEnv(runtime.robot), seed=3)
    (episode,) = summary['episodes']
    assert offline.length == episode['length'] == 1000  # half_cheetah never terminates
    assert episode['seed'] == 3 and episode['truncated'] and not episode['terminated']
    assert episode['return'] == pytest.approx(offline.episode_return, rel=1e-6)
    assert summary['controller']['policy_commands'] >= 1000
    assert not any(summary['faults'].values()), summary['faults']
    assert summary['domain_id'] == int(local_dds['ROS_DOMAIN_ID'])
    assert summary['executor'] == executor
    assert (tmp_path / 'summary.json').is_file()


def test_realtime_holds_its_rate(policies, ros_graph):
    plan = sim_plan('walker_7_main', policies['walker_7_main'], 'realtime', 1.0,
                    publish_markers=0.0)
    bridge, controller = (ros_graph.add(instantiate(spec, ros_graph.context)) for spec in plan)
    ros_graph.spin_until(lambda: controller.counters['policy_commands'] > 20)
    steps, commands, started = bridge.steps, controller.counters['commands'], time.monotonic()
    ros_graph.spin_for(2.0)
    elapsed = time.monotonic() - started
    expected = elapsed / bridge.robot.control_period
    assert 0.9 * expected <= bridge.steps - steps <= 1.05 * expected + 2
    # The controller ticks on /clock: steps the bridge had to catch up on share one tick.
    assert controller.counters['commands'] - commands >= 0.75 * expected
    assert bridge.counters['command_timeouts'] == 0


def test_run_sim_refuses_a_policy_for_another_robot(policies):
    with pytest.raises(PolicyLoadError, match='thigh_left_joint'):
        run_sim('walker_7_main', policies['hopper_4'], mode='lockstep', duration=1.0,
                status=False)


def test_run_sim_stops_after_duration(policies):
    summary = run_sim('walker_7_main', policies['walker_7_main'], mode='lockstep',
                      duration=0.4, status=False)
    assert summary['steps'] == 50 and summary['sim_time'] == pytest.approx(0.4)
    lengths = sum(e['length'] for e in summary['episodes'])
    assert lengths + summary['current_episode']['length'] == 50
    assert np.isfinite(summary['controller']['latency_ms_p50'])
