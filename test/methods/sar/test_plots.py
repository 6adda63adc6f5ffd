"""SAR pictures: the pose sweep holds the root and moves the loaded joints; the command draws."""

from pathlib import Path

import numpy as np

from synergy_control.cli import main
from synergy_control.methods.sar.basis import SynergyBasis
from synergy_control.methods.sar.plots import PoseSweep
from synergy_control.robots import get_robot

BASIS = Path(__file__).resolve().parents[3] / 'models' / 'sar' / 'walker_basis.yaml'


def test_sweep_moves_each_synergys_main_joint_its_way_with_the_root_held():
    robot, basis = get_robot('walker_7_main'), SynergyBasis.load(BASIS)
    sweep = PoseSweep(robot)
    for k in range(basis.count):
        z = np.eye(basis.count)[k]
        up, down = sweep.pose(basis.decode(z)), sweep.pose(basis.decode(-z))
        np.testing.assert_array_equal(up.qpos[sweep.root_q], robot.model.qpos0[sweep.root_q])
        main_joint = np.argmax(np.abs(basis.matrix[k]))
        moved = (up.qpos - down.qpos)[robot.joint_qpos_adr[main_joint]]
        assert np.sign(moved) == np.sign(basis.matrix[k, main_joint]) and abs(moved) > 0.5


def test_loadings_command_draws_both_pictures(tmp_path, capsys):
    out, sweep = tmp_path / 'loadings.png', tmp_path / 'sweep.png'
    assert main(['synergies', 'loadings', '--basis', str(BASIS), '--out', str(out),
                 '--sweep', str(sweep)]) == 0
    assert out.stat().st_size > 0 and sweep.stat().st_size > 0
    assert main(['synergies', 'loadings', '--basis', str(BASIS), '--robot', 'hopper_4',
                 '--out', str(out)]) == 2
    assert 'decodes to 6 actuators, robot hopper_4 has 3' in capsys.readouterr().err
