"""The deploy path runs without the method packages: it imports nothing of ``methods/``.

The methods (SOLAR, SAR, EAR) train policies and write their cards; serving a card needs only
the contract the package keeps at its top level (the card, the task-embedding algebra, the
synergy structure and its palette). A subprocess blocks every ``synergy_control.methods``
import, then imports the runtime, evaluation, the rollout loop, the sim runner and every
module of ``ros/`` (nodes, launch plan, markers, task commands), and runs a multi-task (EAR)
and a multi-robot synergy (SOLAR) policy through them: runtime, task blend, offline episode,
launch plan, synergy markers and a lockstep ``sim`` through the ROS graph. It inherits this
run's loopback DDS domain. The command line is not on this path: it registers the methods'
subcommands (``synergies``, ``tasks``).
"""

from __future__ import annotations

SCRIPT = '''
    import pkgutil

    import numpy as np

    import synergy_control.ros
    from synergy_control.evaluation import evaluate
    from synergy_control.robots import get_robot
    from synergy_control.ros.launch_plan import sim_plan
    from synergy_control.ros.markers import synergy_markers
    from synergy_control.runtime import PolicyRuntime
    from synergy_control.sim_runner import run_sim

    for module in pkgutil.iter_modules(synergy_control.ros.__path__):
        __import__(f'synergy_control.ros.{module.name}')
    ear = PolicyRuntime('models/half_cheetah_vel_ear.onnx')
    ear.set_task('vel:3 vel:5 0.5')
    robot = ear.robot.model
    assert np.all(np.isfinite(ear.act(robot.qpos0, np.zeros(robot.nv)).commands))
    result = evaluate('models/half_cheetah_vel_ear.onnx', episodes=1, task='vel:4.5')
    assert result['mean_length'] > 0, result
    bridge, controller = sim_plan(robot='half_cheetah', task='vel:4.5', mode='lockstep')
    assert controller.parameters['task'], controller.parameters
    solar = PolicyRuntime('models/walker_solar.onnx', robot='walker_3_main')
    assert synergy_markers(get_robot('walker_3_main'), solar.card.synergy) is not None
    summary = run_sim(robot='walker_3_main', policy='models/walker_solar.onnx', mode='lockstep',
                      duration=0.5, status=False)
    assert summary['controller']['policy_commands'] > 0, summary
    summary = run_sim(robot='half_cheetah', mode='lockstep', duration=0.5, status=False,
                      task='vel:4.5')
    assert summary['controller']['policy_commands'] > 0, summary
    assert not blocked_modules(), blocked_modules()
    print('deployed without methods/')
'''


def test_deploy_path_imports_no_method_package(run_blocking):
    run_blocking(('synergy_control.methods',), SCRIPT, 'deployed without methods/')
