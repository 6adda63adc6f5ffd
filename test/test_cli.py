"""The synergy-control command line (robots, export, evaluate, error reporting)."""

import json

from synergy_control.cli import main


def test_robots_json_lists_every_family_with_joints(capsys):
    assert main(['robots', '--json']) == 0
    families = json.loads(capsys.readouterr().out)
    assert {'walker', 'hopper', 'humanoid2d', 'half_cheetah', 'ant', 'humanoid'} <= set(families)
    walker7 = next(v for v in families['walker']['variants'] if v['name'] == 'walker_7_main')
    assert walker7['joint_names'][0] == 'thigh_joint' and walker7['split'] == 'train'


def test_robots_text_for_one_family(capsys):
    assert main(['robots', '--family', 'hopper']) == 0
    out = capsys.readouterr().out
    assert 'hopper_5' in out and 'zero_shot' in out


def test_export_untrained_then_evaluate_json(tmp_path, capsys):
    policy = tmp_path / 'hopper.onnx'
    assert main(['export', '--untrained', 'hopper_4', '--out', str(policy)]) == 0
    assert (tmp_path / 'hopper.card.yaml').is_file()
    capsys.readouterr()
    assert main(['evaluate', '--policy', str(policy), '--episodes', '2', '--json']) == 0
    result = json.loads(capsys.readouterr().out)
    assert result['robot'] == 'hopper_4' and result['episodes'] == 2


def test_corrupt_policy_is_a_clear_error_not_a_traceback(tmp_path, capsys):
    policy = tmp_path / 'broken.onnx'
    policy.write_bytes(b'not a model')
    assert main(['evaluate', '--policy', str(policy)]) == 2
    assert 'not a valid ONNX model' in capsys.readouterr().err
