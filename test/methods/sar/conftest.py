"""A SAR pipeline shared by the tests: play policy → basis → short SAR-RL run."""

from pathlib import Path

import pytest
import yaml

CONFIGS = Path(__file__).resolve().parents[3] / 'config' / 'train'


@pytest.fixture(scope='module')
def humanoid_basis(tmp_path_factory) -> Path:
    """A 4-synergy basis extracted from a (random, exported) humanoid play policy."""
    from synergy_control.export import export_untrained
    from synergy_control.methods.sar.commands import extract
    directory = tmp_path_factory.mktemp('sar')
    export_untrained('humanoid', directory / 'play.onnx')
    extract(directory / 'play.onnx', None, directory / 'basis.yaml', episodes=5,
            percentile=0, count=4, noise=0.3)
    return directory / 'basis.yaml'


def sar_config(basis: Path, **policy) -> dict:
    """The tiny SAR-RL config on ``basis`` with policy overrides (e.g. phi=1.0)."""
    data = yaml.safe_load((CONFIGS / 'humanoid_sar_smoke.yaml').read_text())
    data['policy'].update(basis=str(basis), **policy)
    return data
