"""Static checks as ament_python packages run them (ament_flake8 / ament_pep257 settings)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ['synergy_control', 'launch', 'test', 'benchmarks', 'setup.py']


def _run(tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', tool, *args], cwd=ROOT, capture_output=True,
                          text=True)


@pytest.mark.linter
def test_flake8():
    result = _run('flake8', *[s for s in SOURCES if (ROOT / s).exists()])
    assert result.returncode == 0, f'flake8 found problems:\n{result.stdout}{result.stderr}'


@pytest.mark.linter
def test_pep257():
    result = _run('pydocstyle', 'synergy_control')
    assert result.returncode == 0, f'pep257 found problems:\n{result.stdout}{result.stderr}'
