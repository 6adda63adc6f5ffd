"""Terrain transfer's judge (benchmarks/terrain_transfer.py): crossings counted, runs checked."""

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WALKER = ROOT / 'models' / 'td3' / 'walker_td3.onnx'


@pytest.fixture(scope='module')
def script():
    """The benchmark as a module (it imports result_files from beside itself)."""
    sys.path.insert(0, str(ROOT / 'benchmarks'))
    spec = importlib.util.spec_from_file_location('terrain_transfer',
                                                  ROOT / 'benchmarks' / 'terrain_transfer.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_with(tmp_path: Path, name: str, *policies: Path) -> Path:
    """A run directory holding copies of ``policies`` (and their cards)."""
    run = tmp_path / name
    run.mkdir()
    for policy in policies:
        shutil.copy(policy, run / policy.name)
        shutil.copy(policy.with_suffix('.card.yaml'), run / policy.with_name(
            policy.stem + '.card.yaml').name)
    return run


def test_a_crossing_is_an_episode_that_reaches_the_time_limit(script, tmp_path):
    """The flat walker walks its 1000 steps on flat ground; cut short, no episode crosses."""
    run = run_with(tmp_path, 'flat', WALKER)
    judged = script.judge(run, episodes=2, seed=0)
    assert judged['robot'] == 'walker_7_main'
    assert judged['crossed'] == 1.0 and judged['distance'] > 10.0
    out = tmp_path / 'result'
    script.main(['--arm', 'flat', str(run), str(run), '--episodes', '1', '--out', str(out)])
    summary = json.loads(out.with_suffix('.json').read_text())
    assert summary['arms']['flat']['crossed'] == {'mean': 1.0, 'ci95': 0.0,
                                                  'per_seed': [1.0, 1.0]}


def test_a_run_without_exactly_one_exported_policy_is_refused(script, tmp_path):
    empty = run_with(tmp_path, 'empty')
    with pytest.raises(ValueError, match='run .*empty must hold exactly one exported .onnx, '
                                         'found 0: synergy-control export'):
        script.judge(empty, episodes=1, seed=0)
    with pytest.raises(SystemExit):
        script.main(['--arm', 'lonely', '--out', str(tmp_path / 'x')])
