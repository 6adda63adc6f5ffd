"""``synergy-control tasks ...`` and ``evaluate --task`` on a really trained (small) EAR policy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from synergy_control.cli import main


def run_cli(capsys, *argv: str):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_prints_the_named_tasks(ear_policy, capsys):
    code, out, _ = run_cli(capsys, 'tasks', 'list', '--policy', str(ear_policy), '--json')
    tasks = json.loads(out)
    assert code == 0 and sorted(tasks['embeddings']) == ['vel:1', 'vel:3', 'vel:5']
    assert all(np.isclose(np.linalg.norm(v), 1.0) for v in tasks['embeddings'].values())


def test_interpolation_reports_each_blend_and_its_ends_are_the_named_tasks(ear_policy, capsys):
    code, out, _ = run_cli(capsys, 'tasks', 'interpolate', '--policy', str(ear_policy),
                           'vel:1', 'vel:5', '--betas', '0,0.5,1', '--json')
    rows = json.loads(out)
    assert code == 0 and [r['beta'] for r in rows] == [0, 0.5, 1]
    tasks = json.loads(run_cli(capsys, 'tasks', 'list', '--policy', str(ear_policy),
                               '--json')[1])['embeddings']
    np.testing.assert_allclose(rows[0]['embedding'], tasks['vel:5'], atol=1e-6)
    np.testing.assert_allclose(rows[2]['embedding'], tasks['vel:1'], atol=1e-6)
    middle = np.add(tasks['vel:1'], tasks['vel:5'])
    np.testing.assert_allclose(rows[1]['embedding'], middle / np.linalg.norm(middle), atol=1e-6)
    assert all(r['mean_length'] == 200 for r in rows)  # the vel task's episode length


def test_adapt_searches_the_embedding_and_saves_the_result(ear_policy, capsys, tmp_path):
    out_file = tmp_path / 'adapt.json'
    code, out, _ = run_cli(capsys, 'tasks', 'adapt', '--policy', str(ear_policy), '--task',
                           'vel:2', '--iterations', '2', '--elites', '2',
                           '--samples-per-elite', '1', '--out', str(out_file))
    result = json.loads(out_file.read_text())
    assert code == 0 and result['episodes'] == 8 and result['env_steps'] == 8 * 200
    assert np.isclose(np.linalg.norm(result['embedding']), 1.0)
    assert result['return'] == max(result['best_return_per_iteration'])
    assert 'vel:2: return' in out


def test_unseen_speeds_are_commanded_by_the_nearest_trained_speeds(ear_policy):
    from synergy_control.evaluation import evaluate
    result = evaluate(ear_policy, episodes=1, task='vel:2')
    assert result['command'] == 'vel:1 vel:3 0.5' and result['task'] == 'vel:2'
    named = evaluate(ear_policy, episodes=1, task='vel:3.0')
    assert named['command'] == 'vel:3'
    with pytest.raises(ValueError, match=r'outside the trained range \[1, 5\]'):
        evaluate(ear_policy, episodes=1, task='vel:7')


@pytest.mark.parametrize('argv, message', [
    (['--betas', '0,2'], 'every beta must be in [0, 1]'),
    (['--betas', 'a'], 'expected numbers separated by commas')])
def test_bad_blend_weights_are_refused_naming_the_option(ear_policy, capsys, argv, message):
    with pytest.raises(SystemExit):
        main(['tasks', 'interpolate', '--policy', str(ear_policy), 'vel:1', 'vel:5', *argv])
    assert message in capsys.readouterr().err


def test_a_policy_without_tasks_is_refused(capsys):
    code, _, err = run_cli(capsys, 'tasks', 'list', '--policy', 'models/td3/walker_td3.onnx')
    assert code == 2 and 'takes no task embedding' in err


def test_a_huge_task_vector_commands_its_direction_not_zero(ear_policy, capsys):
    """[1e308] * 3 overflowed the norm and became the zero embedding: another policy input."""
    returns = {}
    for vector in ('[1e308, 1e308, 1e308]', '[1, 1, 1]'):
        code, out, _ = run_cli(capsys, 'evaluate', '--policy', str(ear_policy), '--command',
                               vector, '--episodes', '1', '--json')
        assert code == 0
        returns[vector] = json.loads(out)['mean_return']
    assert returns['[1e308, 1e308, 1e308]'] == returns['[1, 1, 1]']


@pytest.mark.parametrize('argv, message', [
    (['evaluate', '--command', '[1,,0,0]'], "task vector '[1,,0,0]' is not a list of numbers: "
     'value 2 is empty'),
    (['evaluate', '--command', '[1, 0, 0'], 'must be one list'),
    (['tasks', 'interpolate', 'vel:1', 'vel:9'], "unknown task 'vel:9'"),
    (['tasks', 'compose', '[1,,0]', 'vel:1'], 'must be one list'),
    (['tasks', 'adapt', '--task', '[1e308, 1e308, 1e308]'], 'unknown task')])
def test_every_task_path_refuses_a_malformed_command_naming_it(ear_policy, capsys, argv,
                                                               message):
    code, _, err = run_cli(capsys, *argv, '--policy', str(ear_policy))
    assert code == 2 and message in err
