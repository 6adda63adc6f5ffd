"""SAR-RL configs: the play run's SAC settings, only the policy differs."""

from pathlib import Path

import pytest

from synergy_control.training.checkpoint import make_agent
from synergy_control.training.config import load_config

CONFIGS = Path(__file__).resolve().parents[3] / 'config' / 'train'


def test_humanoid_sar_rl_differs_from_the_play_run_only_in_policy_and_budget():
    play = load_config(CONFIGS / 'humanoid_play_sac.yaml').to_dict()
    sar = load_config(CONFIGS / 'humanoid_sar.yaml').to_dict()
    differ = {key for key in play if play[key] != sar[key]}
    assert differ == {'name', 'policy', 'total_steps'}
    assert sar['policy']['name'] == 'sar' and sar['policy']['phi'] == 1.0
    assert sar['policy']['hidden_sizes'] == play['policy']['hidden_sizes']


@pytest.mark.parametrize('terrain', ['slope', 'rough', 'stairs'])
def test_walker_terrain_pairs_differ_only_in_policy_and_budget(terrain):
    sar = load_config(CONFIGS / f'walker_terrain_{terrain}_sar.yaml')
    sac = load_config(CONFIGS / f'walker_terrain_{terrain}_sac.yaml').to_dict()
    differ = {key for key, value in sar.to_dict().items() if sac[key] != value}
    assert differ == {'name', 'policy', 'total_steps'}
    assert sar.robot == f'walker_7_{terrain}'
    agent = make_agent(sar)  # the committed flat-ground basis drives the terrain walker
    assert agent.actor.count == 3 and agent.target_entropy == -3


@pytest.mark.parametrize('pair', [('humanoid_sar_ppo', 'humanoid_ppo'),
                                  ('walker_terrain_stairs_sar_ppo', 'walker_terrain_stairs_ppo')])
def test_ppo_pairs_differ_only_in_the_action_representation(pair):
    sar, baseline = (load_config(CONFIGS / f'{name}.yaml').to_dict() for name in pair)
    differ = {key for key in sar if sar[key] != baseline[key]}
    assert differ == {'name', 'policy'}
    widths = sar['policy']['hidden_sizes']
    assert widths == baseline['policy']['hidden_sizes'] == sar['ppo']['value_hidden_sizes']


def test_the_terrain_baseline_is_the_flat_walkers_ppo_on_the_stairs():
    flat = load_config(CONFIGS / 'walker_ppo.yaml').to_dict()
    stairs = load_config(CONFIGS / 'walker_terrain_stairs_ppo.yaml').to_dict()
    assert {key for key in flat if flat[key] != stairs[key]} == {'name', 'robot', 'total_steps'}
