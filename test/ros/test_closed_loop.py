"""The graph of the launch plan, closed over DDS: lockstep equals offline, realtime paces."""

from __future__ import annotations

import time

import numpy as np
import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Float64MultiArray

from synergy_control.envs import LocomotionEnv
from synergy_control.evaluation import run_episode
from synergy_control.ros import qos
from synergy_control.ros.launch_plan import EXECUTORS, default_policy, sim_plan
from synergy_control.ros.monitor import SimMonitor
from synergy_control.ros.sim_bridge import MAX_CATCH_UP
from synergy_control.ros.synergy_controller import SynergyController
from synergy_control.ros.topics import DEFAULT_COMMAND_TOPIC
from synergy_control.runtime import PolicyLoadError, PolicyRuntime
from synergy_control.sim_runner import instantiate, run_sim


@pytest.mark.parametrize('executor', EXECUTORS)
def test_lockstep_episode_return_equals_offline_rollout(policies, local_dds, tmp_path,
                                                        executor):
    summary = run_sim('half_cheetah', policies['half_cheetah'], mode='lockstep', seed=3,
                      episodes=1, status=False, json_output=tmp_path / 'summary.json',
                      executor=executor)
    runtime = PolicyRuntime(policies['half_cheetah'])
    offline = run_episode(runtime, LocomotionEnv(runtime.robot), seed=3)
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


@pytest.mark.parametrize('intruder', ['zeros', 'random', 'controller'])
def test_lockstep_follows_one_controller_whatever_else_publishes(policies, ros_graph, intruder):
    """A second publisher on the command topic changes no fall and no return, and is seen.

    It joins a running loop: a flood of unstamped commands (zeros or random), or a second
    controller running another policy, whose answers name the right states. Every finished
    episode must still equal its offline rollout under the loop's own policy.
    """
    plan = sim_plan('walker_7_main', policies['walker_7_main'], 'lockstep', publish_markers=0.0)
    plan[0].parameters['diagnostics_period'] = 0.1
    bridge, controller = (ros_graph.add(instantiate(spec, ros_graph.context)) for spec in plan)
    monitor = ros_graph.add(SimMonitor(context=ros_graph.context))
    assert ros_graph.spin_until(lambda: len(monitor.episodes) >= 1, 30.0)
    if intruder == 'controller':
        other = ros_graph.add(SynergyController(
            'intruder', context=ros_graph.context, parameter_overrides=[
                Parameter('policy', value=str(default_policy())),
                Parameter('mode', value='lockstep')]))
        assert other.lifecycle_state == 'active'
        sent = lambda: other.counters['policy_commands']  # noqa: E731
    else:
        flooder = ros_graph.add(Node('flooder', context=ros_graph.context))
        publisher = flooder.create_publisher(Float64MultiArray, DEFAULT_COMMAND_TOPIC,
                                             qos.COMMAND)
        rng, flooded = np.random.default_rng(0), []

        def flood_once() -> None:
            values = np.zeros(6) if intruder == 'zeros' else rng.uniform(-1, 1, 6)
            publisher.publish(Float64MultiArray(data=values.tolist()))
            flooded.append(1)

        flooder.create_timer(0.001, flood_once)
        sent = lambda: len(flooded)  # noqa: E731
    assert ros_graph.spin_until(lambda: len(monitor.episodes) >= 4, 60.0)
    runtime = PolicyRuntime(policies['walker_7_main'])
    for episode in monitor.episodes[:4]:
        offline = run_episode(runtime, LocomotionEnv(runtime.robot), seed=episode['seed'])
        assert episode['length'] == offline.length
        assert episode['return'] == pytest.approx(offline.episode_return, rel=1e-6)
    assert sent() > 100 and bridge.counters['unmatched_commands'] > 0
    assert bridge.counters['command_timeouts'] == 0  # no answer was lost among the others
    assert ros_graph.spin_until(  # the controller sees the stray publisher too
        lambda: monitor.latest(': simulation').get('command_publishers') == '2'
        and monitor.latest(': control').get('command_publishers') == '2', 5.0)


def test_spammed_resets_do_not_inflate_the_real_time_factor(policies, local_dds):
    """Resets advance the clock but simulate nothing: the summary's factor counts steps."""
    import threading

    import rclpy
    from rclpy.context import Context
    from std_srvs.srv import Trigger

    stop, resets = threading.Event(), []

    def spam() -> None:
        context = Context()
        rclpy.init(context=context)
        node = Node('reset_spammer', context=context)
        client = node.create_client(Trigger, '/sim/reset')
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(node)
        try:
            while not stop.is_set():
                if not client.wait_for_service(timeout_sec=0.05):
                    continue
                future = client.call_async(Trigger.Request())
                executor.spin_until_future_complete(future, timeout_sec=1.0)
                resets.append(future.done())
        finally:
            executor.shutdown()
            node.destroy_node()
            rclpy.try_shutdown(context=context)

    thread = threading.Thread(target=spam)
    thread.start()
    try:
        summary = run_sim('walker_7_main', policies['walker_7_main'], mode='realtime',
                          duration=2.0, status=False)
    finally:
        stop.set()
        thread.join()
    assert sum(resets) > 50 and summary['sim_time'] > 1.1 * summary['wall_time']
    # Paced at 1.0, the bridge steps no further ahead of the wall clock than one catch-up.
    slack = (MAX_CATCH_UP + 1) * 0.008 / summary['wall_time']
    assert summary['real_time_factor'] <= 1.0 + slack


def test_status_lines_are_plain_when_stderr_is_not_a_terminal(policies, capfd):
    run_sim('walker_7_main', policies['walker_7_main'], mode='lockstep', duration=30.0,
            status=True)
    err = capfd.readouterr().err
    assert '\r' not in err
    lines = err.splitlines()
    assert any(line.startswith('sim ') and 'policy step' in line for line in lines), err
    assert 'walker_7_main (lockstep): 3750 steps' in lines[-1]
