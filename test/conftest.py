"""Test-session settings (DDS on loopback in a domain of this run's own) and shared fixtures."""

import csv
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

# Set before any test imports rclpy: Fast DDS would otherwise multicast onto the network.
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('ROS_DOMAIN_ID', str(1 + os.getpid() % 100))
os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')


CONFIGS = Path(__file__).resolve().parents[1] / 'config' / 'train'


@pytest.fixture
def smoke_config() -> Callable:
    """Build the smoke config of an algorithm with overrides, e.g. total_steps=500."""
    from synergy_control.training.config import config_from_dict

    def build(algorithm: str = 'td3', **overrides):
        data = yaml.safe_load((CONFIGS / f'smoke_{algorithm}.yaml').read_text())
        data.update(overrides)
        return config_from_dict(data, name=f'smoke_{algorithm}')
    return build


@pytest.fixture
def run_to_end() -> Callable:
    """Train a config dict in a run directory to its end; return the trainer and CSV rows."""
    from synergy_control.training import config_from_dict
    from synergy_control.training.runner import StopRequest, Trainer

    def run(data: dict, run_dir: Path):
        trainer = Trainer(config_from_dict(data), run_dir, 'cpu', progress=False)
        try:
            trainer.run(StopRequest())
        finally:
            trainer.close()
        with open(run_dir / 'metrics.csv', newline='') as f:
            return trainer, list(csv.DictReader(f))
    return run


# A small EAR policy, trained for real on three HalfCheetah-Vel tasks, exported once a
# session (EAR tests and the ROS task-command tests).
EAR_TASKS = ['vel:1', 'vel:3', 'vel:5']
SMALL_EAR = {'name': 'ear', 'state_hidden': [16], 'state_dim': 4, 'task_hidden': [8],
             'task_dim': 3, 'decoder_hidden': [16, 16], 'critic_hidden': [16, 16]}


def ear_config(**overrides) -> dict:
    """A few hundred steps of EAR: enough to train, update and export every part."""
    return {'robot': 'half_cheetah', 'tasks': EAR_TASKS, 'algorithm': 'sac',
            'policy': SMALL_EAR, 'total_steps': 150, 'start_steps': 20, 'batch_size': 30,
            'buffer_size': 500, 'updates_per_step': 0.5, 'eval_every': 150, 'eval_episodes': 1,
            'checkpoint_every': 150, 'log_every': 30, 'num_threads': 1, **overrides}


@pytest.fixture
def small_ear_config():
    """Build the small EAR run's config dict, with overrides."""
    return ear_config


@pytest.fixture(scope='session')
def ear_policy(tmp_path_factory) -> Path:
    """Path of the exported small EAR policy (default task vel:3)."""
    from synergy_control.training import config_from_dict
    from synergy_control.export.trained import export_checkpoint
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
