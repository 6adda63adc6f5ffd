"""The deployment path runs on a robot computer without torch (issue 6, section 2).

A subprocess blocks ``import torch`` (and ``onnx``, which only the exporter needs), then loads
a shipped policy, evaluates an episode, builds the launch plan, imports every node module and
runs ``synergy-control sim`` and ``evaluate``; the node modules load no scikit-learn either.
It inherits this run's loopback DDS domain.
"""

from __future__ import annotations

SCRIPT = '''
    import pkgutil

    import numpy as np

    import synergy_control.ros
    from synergy_control.cli import main
    from synergy_control.evaluation import evaluate
    from synergy_control.ros.launch_plan import default_policy, sim_plan
    from synergy_control.runtime import PolicyRuntime

    for module in pkgutil.iter_modules(synergy_control.ros.__path__):
        __import__(f'synergy_control.ros.{module.name}')
    assert 'sklearn' not in sys.modules  # the nodes read synergy structures, never cluster
    runtime = PolicyRuntime('models/td3/walker_td3.onnx')
    assert np.all(np.isfinite(runtime.act(runtime.robot.model.qpos0,
                                          np.zeros(runtime.robot.model.nv)).commands))
    result = evaluate('models/hopper_td3.onnx', episodes=1, seed=0)
    assert result['mean_length'] > 0, result
    bridge, controller = sim_plan(policy=default_policy(), mode='lockstep')
    assert controller.parameters['robot'] == 'walker_7_main'
    assert main(['evaluate', '--policy', 'models/td3/walker_td3.onnx', '--episodes', '1']) == 0
    assert main(['sim', '--mode', 'lockstep', '--duration', '0.5', '--json']) == 0
    assert not blocked_modules(), blocked_modules()
    print('deployed without torch')
'''


def test_deployment_path_imports_no_torch(run_blocking):
    run_blocking(('torch', 'onnx'), SCRIPT, 'deployed without torch')
