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
