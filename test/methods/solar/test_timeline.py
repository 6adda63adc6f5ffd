"""``synergies timeline``: a real (tiny) SOLAR run's cluster history drawn beside its returns."""

import json
from pathlib import Path

import pytest

from synergy_control.cli import main
from synergy_control.methods.solar.hooks import HISTORY_FILE
from synergy_control.methods.solar.synergies import discover
from synergy_control.methods.solar.timeline import read_timelines
from synergy_control.robots import get_robot
from synergy_control.training import config_from_dict, train


@pytest.fixture(scope='module')
def run_dir(tmp_path_factory):
    """Hopper++ trained 160 steps (hopper_3, hopper_4; hopper_5 zero-shot), re-clustered often."""
    run_dir = tmp_path_factory.mktemp('timeline') / 'run'
    data = {'robots': 'hopper++', 'obs_mode': 'modular', 'algorithm': 'td3', 'seed': 4,
            'total_steps': 160, 'start_steps': 20, 'batch_size': 16, 'buffer_size': 200,
            'eval_every': 80, 'eval_episodes': 1, 'checkpoint_every': 160, 'log_every': 40,
            'num_threads': 1,
            'policy': {'name': 'solar', 'variant': 'solar', 'd_model': 8, 'heads': 2,
                       'feedforward': 16},
            'hooks': [{'name': 'solar_recluster', 'every': 40, 'samples': 16}]}
    return Path(train(config=config_from_dict(data, name='hopper_solar_tiny'),
                      run_dir=str(run_dir), progress=False))


def test_timelines_start_from_the_initial_structure_and_follow_the_history(run_dir):
    history = json.loads((run_dir / HISTORY_FILE).read_text())['history']
    timelines = read_timelines(run_dir)
    assert [(t.robot, t.zero_shot) for t in timelines] == [
        ('hopper_3', False), ('hopper_4', False), ('hopper_5', True)]
    for t in timelines:
        robot = get_robot(t.robot)
        records = [r for r in history if r['robot'] == t.robot]
        assert len(records) >= 3 and t.limbs == [limb.name for limb in robot.limbs[1:]]
        assert t.steps.tolist() == [0] + [r['step'] for r in records]
        assert t.labels[0].tolist() == list(discover(robot.hop_distances, seed=4)
                                            .structure.labels)
        assert t.labels[1:].tolist() == [r['labels'] for r in records]
        assert t.counts.tolist()[1:] == [len(r['centres']) for r in records]


def test_the_command_draws_the_run(run_dir, tmp_path, capsys):
    out = tmp_path / 'pictures' / 'timeline.png'
    assert main(['synergies', 'timeline', str(run_dir), '--out', str(out)]) == 0
    assert out.stat().st_size > 5000 and 'wrote' in capsys.readouterr().out


def test_an_attempt_that_kept_its_structure_is_marked(run_dir, tmp_path):
    copy = tmp_path / 'run'
    copy.mkdir()
    for name in ('config.yaml', 'metrics.csv'):
        (copy / name).write_bytes((run_dir / name).read_bytes())
    state = json.loads((run_dir / HISTORY_FILE).read_text())
    state['history'][-1]['converged'] = False
    (copy / HISTORY_FILE).write_text(json.dumps(state))
    failed = {t.robot: t.failed.tolist() for t in read_timelines(copy)}
    assert failed[state['history'][-1]['robot']] == [state['history'][-1]['step']]
    assert sum(map(len, failed.values())) == 1
    assert main(['synergies', 'timeline', str(copy), '--out', str(tmp_path / 't.png')]) == 0


@pytest.mark.parametrize('history, why', [(None, 'only SOLAR runs with the solar_recluster'),
                                          ('{"history": []}', 'not a cluster history'),
                                          ('not json', 'not a cluster history')])
def test_a_run_without_a_readable_history_is_named(run_dir, tmp_path, capsys, history, why):
    (tmp_path / 'config.yaml').write_bytes((run_dir / 'config.yaml').read_bytes())
    if history is not None:
        (tmp_path / HISTORY_FILE).write_text(history)
    assert main(['synergies', 'timeline', str(tmp_path), '--out', str(tmp_path / 'x.png')]) == 2
    err = capsys.readouterr().err
    assert HISTORY_FILE in err and why in err
