"""SAR-RL end to end: a basis from a play policy, a short SAC run through it, its export served
by the runtime with the synergy values as second output and the basis in the card."""

import shutil

import numpy as np
import pytest
import torch

from synergy_control.envs import LocomotionEnv
from synergy_control.export.trained import export_checkpoint, resolve_checkpoint
from synergy_control.methods.sar.basis import SynergyBasis
from synergy_control.runtime import PolicyRuntime
from synergy_control.state import with_unit_root_quaternion
from synergy_control.training.checkpoint import agent_from_checkpoint

from .conftest import sar_config


@pytest.mark.parametrize('phi', [0.5, 1.0])
def test_trained_sar_policy_exports_and_serves_its_synergies(humanoid_basis, run_to_end,
                                                             tmp_path, phi):
    basis_file = tmp_path / 'basis.yaml'
    shutil.copy(humanoid_basis, basis_file)
    trainer, rows = run_to_end(sar_config(basis_file, phi=phi), tmp_path / 'run')
    assert int(rows[-1]['step']) == 300 and any(r['critic_loss'] for r in rows)
    card = export_checkpoint(tmp_path / 'run', tmp_path / 'sar.onnx')
    basis = SynergyBasis.load(humanoid_basis)

    # the card holds the decoder the graph holds: the extracted basis, its fit and phi
    served = SynergyBasis.from_card(card.synergy)
    np.testing.assert_allclose(served.matrix, basis.matrix, atol=1e-6)
    np.testing.assert_allclose(served.offset, basis.offset, atol=1e-6)
    assert card.synergy['count'] == 4 and card.synergy['fit']['phi'] == phi
    assert card.synergy['fit']['vaf'] == basis.fit['vaf']
    assert card.training['policy']['name'] == 'sar'

    runtime = PolicyRuntime(tmp_path / 'sar.onnx')
    assert runtime.synergy_count == 4
    agent = agent_from_checkpoint(resolve_checkpoint(tmp_path / 'run'))
    env = LocomotionEnv('humanoid')
    env.reset(seed=3)
    for _ in range(20):
        out = runtime.act(env.data.qpos, env.data.qvel, env.data.ctrl)
        # the runtime sees the root quaternion at unit length, as odometry carries it
        obs = env.observe(with_unit_root_quaternion(env.robot, env.data.qpos), env.data.qvel,
                          env.data.ctrl)
        with torch.no_grad():
            action, synergy = agent.actor.act(agent.normalize(torch.as_tensor(
                obs, dtype=torch.float32)[None]))
        np.testing.assert_allclose(out.synergy, synergy[0].numpy(), atol=1e-5)
        np.testing.assert_allclose(out.action, action[0].numpy(), atol=1e-5)
        assert np.all(np.abs(out.synergy) <= 1) and np.all(np.abs(out.action) <= 1)
        if phi == 1.0:  # pure synergy control: the action is the decoded synergies, clipped
            np.testing.assert_allclose(out.action,
                                       np.clip(served.decode(out.synergy), -1, 1), atol=1e-5)
        terminated = env.step(out.action)[2]
        if terminated:
            env.reset(seed=4)

    # weights trained through one decoder are never paired with a re-extracted basis file
    SynergyBasis(basis.matrix, basis.offset + 0.01, basis.fit).save(basis_file)
    with pytest.raises(ValueError, match=r'differs from basis file .*basis\.yaml'):
        export_checkpoint(tmp_path / 'run', tmp_path / 'again.onnx')
