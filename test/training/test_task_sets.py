"""Multi-task runs (EAR's seam): one robot on several tasks, one environment and replay each."""

from __future__ import annotations

import pytest

from synergy_control.export.trained import export_checkpoint
from synergy_control.training import ConfigError, config_from_dict, load_checkpoint

TASKS = ['vel:1', 'vel:3']
IDS = [f'half_cheetah@{task}' for task in TASKS]


@pytest.fixture
def finished_run(tmp_path, run_to_end):
    return run_to_end({
        'robot': 'half_cheetah', 'tasks': TASKS, 'total_steps': 200, 'start_steps': 50,
        'batch_size': 32, 'buffer_size': 1000, 'policy': {'hidden_sizes': [16, 16]},
        'eval_every': 200, 'eval_episodes': 1, 'checkpoint_every': 200, 'log_every': 50,
        'num_threads': 1}, tmp_path)


def test_each_task_has_its_environment_replay_and_metrics(finished_run, tmp_path):
    trainer, rows = finished_run
    assert trainer.context.names == IDS and trainer.context.tasks == TASKS
    assert [str(slot.env.task) for slot in trainer.slots] == TASKS
    assert trainer.buffer.keys() == IDS
    evaluation = [r for r in rows if r['eval_mean']][-1]
    assert all(evaluation[f'eval_mean/{name}'] for name in IDS)
    state = load_checkpoint(tmp_path / 'checkpoints' / 'last.pt')
    assert state['counters']['robot_steps'] == dict.fromkeys(IDS, 100)
    card = export_checkpoint(tmp_path, tmp_path / 'fast.onnx', robot=IDS[1])
    assert card.robot == 'half_cheetah'


def test_task_lists_are_checked_naming_the_entry():
    with pytest.raises(ConfigError, match=r"'tasks\[1\]': 'vel:1.0' is listed twice"):
        config_from_dict({'robot': 'half_cheetah', 'tasks': ['vel:1', 'vel:1.0']})
    with pytest.raises(ConfigError, match=r"'tasks\[0\]': robot family 'walker' has no 'dir'"):
        config_from_dict({'robot': 'walker_7_main', 'tasks': ['dir:30']})
    with pytest.raises(ConfigError, match="task set 'ant_dir' is for the ant family"):
        config_from_dict({'robot': 'half_cheetah', 'tasks': 'ant_dir'})
    assert config_from_dict({'robot': 'half_cheetah', 'tasks': 'half_cheetah_vel'}
                            ).robot_split()[0][-1] == 'half_cheetah@vel:10'
