"""The ``solar_recluster`` hook: real TD3 training on Walker++, structures in every network,
zero-shot walkers clustered without data, and a resumed run that keeps structures and history."""

import json

import numpy as np
import pytest

from synergy_control.methods.solar.clustering import Reclusterer
from synergy_control.methods.solar.hooks import HISTORY_FILE
from synergy_control.methods.solar.synergies import discover
from synergy_control.robots import get_robot
from synergy_control.synergy import SynergyStructure
from synergy_control.training import config_from_dict, load_checkpoint
from synergy_control.training.config import ConfigError
from synergy_control.training.runner import StopRequest, Trainer

ZERO_SHOT = {'walker_3_main', 'walker_6_main'}


def walker_run(variant: str = 'solar', **overrides) -> dict:
    """A tiny Walker++ run: 100 steps per training walker, re-clustered every 100 steps."""
    return {'robots': 'walker++', 'obs_mode': 'modular', 'algorithm': 'td3', 'seed': 3,
            'total_steps': 400, 'start_steps': 30, 'batch_size': 32, 'buffer_size': 200,
            'keep_buffer': True, 'eval_every': 400, 'eval_episodes': 1,
            'checkpoint_every': 400, 'log_every': 100, 'num_threads': 1,
            'policy': {'name': 'solar', 'variant': variant, 'd_model': 8, 'heads': 2,
                       'feedforward': 16},
            'hooks': [{'name': 'solar_recluster', 'every': 100, 'samples': 64,
                       'preference_scale': 1.2}], **overrides}


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A finished run (trainer, run directory)."""
    run_dir = tmp_path_factory.mktemp('solar') / 'run'
    trainer = Trainer(config_from_dict(walker_run()), run_dir, 'cpu', progress=False)
    try:
        trainer.run(StopRequest())
    finally:
        trainer.close()
    return trainer, run_dir


def tables_of(agent) -> list:
    return [net.table for net in (agent.actor, agent.critic, agent.actor_target,
                                  agent.critic_target)]


def test_every_network_and_card_follow_the_hook(trained):
    trainer, _ = trained
    structures = trainer.hooks[0].clusterer.structures
    assert set(structures) == set(trainer.context.names)
    for name, structure in structures.items():
        index = trainer.context.index(name)
        for table in tables_of(trainer.agent):
            assert table.structure(index) == structure, name
        assert trainer.agent.builder.structure(index) is structure  # the hook's own object
        assert trainer.agent.export_spec(name)['synergy']['labels'] == list(structure.labels)


def test_history_covers_every_walker_and_zero_shot_ones_have_no_data(trained):
    trainer, run_dir = trained
    assert set(trainer.buffer.keys()).isdisjoint(ZERO_SHOT)
    assert all(trainer.robot_steps[name] == 0 for name in ZERO_SHOT)
    saved = json.loads((run_dir / HISTORY_FILE).read_text())
    assert set(saved['zero_shot']) == ZERO_SHOT
    steps = sorted({r['step'] for r in saved['history']})
    assert steps and steps[0] > 30 * 4  # only once the critic has been updated
    for step in steps:
        records = {r['robot']: r for r in saved['history'] if r['step'] == step}
        assert set(records) == set(trainer.context.names)
        measured = {name: np.array(r['delta_q']) for name, r in records.items()
                    if name not in ZERO_SHOT}
        # walker_3's thigh and leg: the mean of the trained walkers' thighs and legs
        thighs = np.mean([d[0] for d in measured.values()])
        legs = np.mean([d[1] for d in measured.values() if len(d) > 1])
        np.testing.assert_allclose(records['walker_3_main']['delta_q'], [thighs, legs])
    assert saved['history'] == json.loads(json.dumps(trainer.hooks[0].state_dict()['history']))


def test_resume_restores_structures_and_history(trained):
    trainer, run_dir = trained
    state = load_checkpoint(run_dir / 'checkpoints' / 'last.pt')
    resumed = Trainer(config_from_dict(state['config']), run_dir, 'cpu', state, progress=False)
    try:
        hook = resumed.hooks[0]
        hook.start(resumed)
        assert hook.clusterer.structures == trainer.hooks[0].clusterer.structures
        assert hook.clusterer.history == trainer.hooks[0].clusterer.history
        for name, structure in hook.clusterer.structures.items():
            for table in tables_of(resumed.agent):
                assert table.structure(resumed.context.index(name)) == structure
    finally:
        resumed.close()


def test_borrowed_delta_q_goes_by_limb_name():
    names = ['walker_7_main', 'walker_4_main', 'walker_3_main', 'walker_6_main']
    clusterer = Reclusterer([get_robot(n) for n in names])
    measured = {'walker_7_main': np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
                'walker_4_main': np.array([3.0, 4.0, 5.0])}
    np.testing.assert_allclose(clusterer.borrowed_delta_q('walker_3_main', measured), [2.0, 3.0])
    np.testing.assert_allclose(clusterer.borrowed_delta_q('walker_6_main', measured),
                               [2.0, 3.0, 4.0, 4.0, 5.0])


def test_the_ablation_clusters_by_affinity_alone(tmp_path):
    config = config_from_dict(walker_run('solar_no_preference', total_steps=200))
    trainer = Trainer(config, tmp_path / 'run', 'cpu', progress=False)
    try:
        trainer.run(StopRequest())
    finally:
        trainer.close()
    history = trainer.hooks[0].clusterer.history
    assert history  # ΔQ is measured (for the timeline) but does not move the clusters
    for record in history:
        structure = SynergyStructure(record.labels, record.centres)
        assert structure == discover(get_robot(record.robot).hop_distances, seed=3).structure


@pytest.mark.parametrize('policy', [{'name': 'solar', 'variant': 'amorpheus', 'd_model': 8},
                                    {'name': 'mlp', 'hidden_sizes': [8]}])
def test_a_policy_without_synergies_is_refused(tmp_path, policy):
    trainer = Trainer(config_from_dict(walker_run(policy=policy)), tmp_path / 'run', 'cpu',
                      progress=False)
    try:
        with pytest.raises(ConfigError, match="hook 'solar_recluster' needs policy 'solar'"):
            trainer.hooks[0].start(trainer)
    finally:
        trainer.close()
