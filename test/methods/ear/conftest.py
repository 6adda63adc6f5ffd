"""A small EAR policy, trained for real on three HalfCheetah-Vel tasks, exported once a session."""

from __future__ import annotations

from pathlib import Path

import pytest

TASKS = ['vel:1', 'vel:3', 'vel:5']
SMALL_EAR = {'name': 'ear', 'state_hidden': [16], 'state_dim': 4, 'task_hidden': [8],
             'task_dim': 3, 'decoder_hidden': [16, 16], 'critic_hidden': [16, 16]}


def ear_config(**overrides) -> dict:
    """A few hundred steps of EAR: enough to train, update and export every part."""
    return {'robot': 'half_cheetah', 'tasks': TASKS, 'algorithm': 'sac', 'policy': SMALL_EAR,
            'total_steps': 150, 'start_steps': 20, 'batch_size': 30, 'buffer_size': 500,
            'updates_per_step': 0.5, 'eval_every': 150, 'eval_episodes': 1,
            'checkpoint_every': 150, 'log_every': 30, 'num_threads': 1, **overrides}


@pytest.fixture
def small_ear_config():
    """Build the small EAR run's config dict, with overrides."""
    return ear_config


@pytest.fixture(scope='session')
def ear_policy(tmp_path_factory) -> Path:
    """Path of the exported small EAR policy (default task vel:3)."""
    from synergy_control.training import config_from_dict
    from synergy_control.training.export import export_checkpoint
    from synergy_control.training.runner import StopRequest, Trainer
    run_dir = tmp_path_factory.mktemp('ear_run')
    trainer = Trainer(config_from_dict(ear_config()), run_dir, 'cpu', progress=False)
    try:
        trainer.run(StopRequest())
    finally:
        trainer.close()
    out = run_dir / 'ear.onnx'
    export_checkpoint(run_dir, out, robot='half_cheetah@vel:3')
    return out
