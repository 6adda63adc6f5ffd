"""``synergy-control synergies extract`` on the shipped walker policy."""

from pathlib import Path

import numpy as np
import pytest

from synergy_control.cli import main
from synergy_control.methods.sar.basis import SynergyBasis

WALKER = Path(__file__).resolve().parents[3] / 'models' / 'td3' / 'walker_td3.onnx'


def test_extract_writes_basis_and_vaf_plot(tmp_path, capsys):
    out, plot = tmp_path / 'basis.yaml', tmp_path / 'vaf.png'
    assert main(['synergies', 'extract', '--policy', str(WALKER), '--robot', 'walker_7_main',
                 '--out', str(out), '--episodes', '5', '--max-steps', '200', '--noise', '0.1',
                 '--percentile', '60', '--vaf', '0.9', '--plot', str(plot), '--check', '1']) == 0
    basis = SynergyBasis.load(out)
    fit = basis.fit
    vaf = [0.0, *fit['vaf']]
    assert vaf[basis.count] > 0.9 >= vaf[basis.count - 1]
    assert fit['episodes'] == 5 and fit['episodes_kept'] == 2 and fit['samples'] == 400
    assert fit['robot'] == 'walker_7_main' and fit['actuators'] == 6
    assert fit['check_episodes'] == 1 and fit['check_return'] > 3000  # the shipped walker
    assert np.isfinite(fit['check_return_projected'])
    assert plot.stat().st_size > 0
    assert f'{basis.count} synergies of 6 actuators' in capsys.readouterr().out

    assert main(['synergies', 'extract', '--policy', str(WALKER), '--out', str(out),
                 '--episodes', '2', '--max-steps', '50', '--count', '2']) == 0
    assert SynergyBasis.load(out).count == 2 and SynergyBasis.load(out).fit['vaf_threshold'] \
        is None


def test_extract_refuses_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(['synergies', 'extract', '--policy', str(WALKER), '--out', 'x', '--vaf', '1.5'])
    assert '--vaf: must be in (0, 1]' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(['synergies', 'extract', '--policy', str(WALKER), '--out', 'x', '--count', '2',
              '--vaf', '0.8'])
    assert main(['synergies', 'extract', '--policy', str(tmp_path / 'none.onnx'),
                 '--out', 'x']) == 2
    assert 'none.onnx does not exist' in capsys.readouterr().err
    assert main(['synergies', 'extract', '--policy', str(WALKER), '--out', 'x', '--count',
                 '9', '--episodes', '1', '--max-steps', '20']) == 2
    assert 'synergy count must be in 1..6' in capsys.readouterr().err
