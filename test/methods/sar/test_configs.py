"""SAR-RL configs: the play run's SAC settings, only the policy differs."""

from pathlib import Path

from synergy_control.training.config import load_config

CONFIGS = Path(__file__).resolve().parents[3] / 'config' / 'train'


def test_humanoid_sar_rl_differs_from_the_play_run_only_in_policy_and_budget():
    play = load_config(CONFIGS / 'humanoid_play_sac.yaml').to_dict()
    sar = load_config(CONFIGS / 'humanoid_sar.yaml').to_dict()
    differ = {key for key in play if play[key] != sar[key]}
    assert differ == {'name', 'policy', 'total_steps'}
    assert sar['policy']['name'] == 'sar' and sar['policy']['phi'] == 1.0
    assert sar['policy']['hidden_sizes'] == play['policy']['hidden_sizes']
