"""SOLAR's Walker++ configs: the reduced comparison runs differ only in the policy (and hook)."""

from pathlib import Path

import pytest

from synergy_control.training.config import load_config

CONFIGS = Path(__file__).resolve().parents[3] / 'config' / 'train'
REDUCED = ['walker_amorpheus_cpu', 'walker_amorpheus_masked_cpu', 'walker_solar_nopref_cpu',
           'walker_mlp_cpu']


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
