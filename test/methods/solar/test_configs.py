"""SOLAR's reduced configs: compared runs differ only in the policy (and hook), and the
Hopper++ and Humanoid2D++ ones only in the robots from their Walker++ twins."""

from pathlib import Path

import pytest

from synergy_control.methods.solar.hooks import HISTORY_FILE
from synergy_control.training.config import config_from_dict, load_config
from synergy_control.training.runner import StopRequest, Trainer

CONFIGS = Path(__file__).resolve().parents[3] / 'config' / 'train'
REDUCED = ['walker_amorpheus_cpu', 'walker_amorpheus_masked_cpu', 'walker_solar_nopref_cpu',
           'walker_mlp_cpu']
# Each morphology set's twin of a Walker++ config (set name, config name).
TWINS = [(robots, f'{family}_{method}_cpu') for robots, family in (('hopper++', 'hopper'),
                                                                   ('humanoid2d++', 'humanoid2d'))
         for method in ('solar', 'amorpheus')]


def settings(name: str) -> dict:
    """A config without what may differ between compared methods."""
    data = load_config(CONFIGS / f'{name}.yaml').to_dict()
    for key in ('name', 'policy', 'hooks'):
        data.pop(key)
    return data


@pytest.mark.parametrize('name', REDUCED)
def test_compared_runs_share_budget_and_td3_settings(name):
    assert settings(name) == settings('walker_solar_cpu')


def test_each_variant_has_its_hook_exactly_when_it_clusters():
    for name in ['walker_solar_cpu', *REDUCED]:
        config = load_config(CONFIGS / f'{name}.yaml')
        clusters = config.policy.name == 'solar' and config.policy.settings.variant != 'amorpheus'
        assert [h.name for h in config.hooks] == (['solar_recluster'] if clusters else []), name


def test_the_reduced_solar_run_is_the_reference_but_for_size_and_budget():
    reference, reduced = (load_config(CONFIGS / f'{n}.yaml').to_dict()
                          for n in ('walker_solar', 'walker_solar_cpu'))
    differ = {k for k in reference if reference[k] != reduced[k]}
    assert differ == {'name', 'total_steps', 'buffer_size', 'updates_per_step', 'policy',
                      'hooks', 'checkpoint_every', 'eval_episodes'}
    assert reduced['policy']['variant'] == reference['policy']['variant'] == 'solar'


@pytest.mark.parametrize('robots, name', TWINS)
def test_other_sets_differ_from_their_walker_twin_in_the_robots_only(robots, name):
    config, twin = (load_config(CONFIGS / f'{n}.yaml').to_dict()
                    for n in (name, 'walker' + name[name.index('_'):]))
    assert {k for k in config if config[k] != twin[k]} == {'name', 'robots'}
    assert config['robots'] == robots


@pytest.mark.parametrize('robots, name', TWINS)
def test_other_sets_train_a_few_steps(robots, name, tmp_path):
    data = load_config(CONFIGS / f'{name}.yaml').to_dict()
    data.update(total_steps=120, start_steps=10, batch_size=16, eval_every=120,
                eval_episodes=1, checkpoint_every=120, log_every=40, buffer_size=200)
    for hook in data['hooks']:
        hook.update(every=40, samples=16)
    trainer = Trainer(config_from_dict(data), tmp_path / 'run', 'cpu', progress=False)
    try:
        trainer.run(StopRequest())
    finally:
        trainer.close()
    assert trainer.env_steps == 120 and trainer.agent.updates > 0
    assert (tmp_path / 'run' / HISTORY_FILE).exists() == bool(data['hooks'])
