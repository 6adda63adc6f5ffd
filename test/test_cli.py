"""The synergy-control command line (robots, export, evaluate, error reporting)."""

import json
from pathlib import Path

import onnx
import pytest
import yaml

from synergy_control.card import METADATA_KEY
from synergy_control.cli import main

ROOT = Path(__file__).resolve().parents[1]


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


def test_robots_lists_task_kinds_and_training_sets(capsys):
    assert main(['robots', '--family', 'half_cheetah']) == 0
    out = capsys.readouterr().out
    assert 'tasks: forward, vel, jump' in out
    assert 'half_cheetah_vel' in out and 'vel:1 vel:2' in out and 'adapt vel in [0.0, 9.9]' in out


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


@pytest.mark.parametrize('argv, option', [
    (['sim', '--duration', '-1'], '--duration'),
    (['sim', '--duration', 'nan'], '--duration'),
    (['sim', '--duration', 'inf'], '--duration'),
    (['sim', '--realtime-factor', '0'], '--realtime-factor'),
    (['sim', '--seed', '-3'], '--seed'),
    (['evaluate', '--policy', 'p.onnx', '--episodes', '0'], '--episodes'),
    (['render', '--policy', 'p.onnx', '--out', 'x.gif', '--fps', 'abc'], '--fps'),
])
def test_bad_numbers_are_refused_naming_the_option(capsys, argv, option):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert f'argument {option}: must be' in capsys.readouterr().err


def test_malformed_card_is_one_line_naming_the_key_not_a_traceback(tmp_path, capsys):
    model = onnx.load(ROOT / 'models' / 'hopper_td3.onnx')
    for entry in model.metadata_props:
        if entry.key == METADATA_KEY:
            card = yaml.safe_load(entry.value)
            card['action'] = [1, 2]
            entry.value = yaml.safe_dump(card)
    policy = tmp_path / 'malformed.onnx'
    onnx.save(model, policy)
    assert main(['evaluate', '--policy', str(policy)]) == 2
    assert capsys.readouterr().err == (f"synergy-control evaluate: error: policy card {policy}: "
                                       "key 'action': expected a mapping, got [1, 2]\n")


@pytest.mark.parametrize('options, named', [
    (['--address', '127.0.0.1:6379'], '--address: only with --backend ray'),
    (['--cpus-per-run', '2', '--gpus-per-run', '1'],
     '--cpus-per-run, --gpus-per-run: only with --backend ray'),
    (['--backend', 'ray', '--jobs', '2'], '--jobs is for --backend local'),
])
def test_sweep_refuses_the_options_of_the_other_backend(tmp_path, capsys, options, named):
    config = str(ROOT / 'config/train/smoke_td3.yaml')
    assert main(['sweep', config, '--runs-dir', str(tmp_path / 'runs'), *options]) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / 'runs').exists()
