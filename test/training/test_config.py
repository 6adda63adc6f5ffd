"""Config validation happens before training and names the offending key."""

from pathlib import Path

import pytest
import yaml

from synergy_control.training.config import ConfigError, config_from_dict, load_config

CONFIGS = Path(__file__).resolve().parents[2] / 'config' / 'train'


@pytest.mark.parametrize('data, message', [
    ({'td3': {'policy_noise': 'abc'}},
     "config key 'td3.policy_noise': expected a number >= 0, got 'abc'"),
    ({'gamma': 1.5}, "config key 'gamma': expected a number in [0, 1], got 1.5"),
    ({'batch_size': 0}, "config key 'batch_size': expected an integer > 0, got 0"),
    ({'seed': True}, "config key 'seed': expected an integer >= 0, got True"),
    ({'algorithm': 'a2c'}, "config key 'algorithm': expected one of 'td3', 'sac', 'ppo'"),
    ({'hidden_sizes': [256, -1]},
     "config key 'policy.hidden_sizes': expected a list of integers"),
    ({'policy': {'hidden_sizes': [8, 0]}}, "config key 'policy.hidden_sizes': expected a list of"),
    ({'policy': {'name': 'transformer'}}, "config key 'policy.name': unknown policy"),
    ({'policy': {'width': 8}}, "config key 'policy.width': unknown key"),
    ({'hidden_sizes': [8], 'policy': {'hidden_sizes': [8]}},
     "config key 'hidden_sizes': give it"),
    ({'robot': None, 'robots': 'walker+'}, "config key 'robots': expected a morphology set"),
    ({'robot': None, 'robots': ['walker_2_main', 'walker_99']},
     "config key 'robots[1]': expected one of"),
    ({'robot': None, 'robots': ['walker_3_main']},
     "config key 'robots': every variant listed is a zero-shot"),
    ({'robots': 'walker++'}, "config key 'robot': required (or 'robots'"),
    ({'hooks': [{'name': 'nope', 'every': 5}]}, "config key 'hooks[0].name': unknown hook"),
    ({'hooks': [{'every': 5}]}, "config key 'hooks[0].name': required"),
    ({'keep_buffer': 'yes'}, "config key 'keep_buffer': expected a boolean"),
    ({'sac': {'target_entropy': 'auto'}}, "config key 'sac.target_entropy': expected a number"),
    ({'sac': {'alpha': 0.2}}, "config key 'sac.alpha': unknown key"),
    ({'learning_rate': 1e-3}, "config key 'learning_rate': unknown key"),
    ({'td3': [1]}, "config key 'td3': expected a mapping"),
    ({'robot': 'walker_99'}, "config key 'robot': expected one of"),
    ({'batch_size': 512, 'buffer_size': 100}, "config key 'batch_size': expected <= buffer_size"),
    ({'device': 'tpu'}, "config key 'device'"),
])
def test_errors_name_the_key(data, message):
    with pytest.raises(ConfigError) as info:
        config_from_dict({'robot': 'walker_7_main', **data})
    assert message in str(info.value)


def test_robot_is_required():
    with pytest.raises(ConfigError, match="config key 'robot': required"):
        config_from_dict({})


def test_yaml_scientific_notation_and_name_from_file(tmp_path):
    path = tmp_path / 'my_run.yaml'
    path.write_text('robot: hopper_4\nactor_lr: 3e-4\nsac:\n  target_entropy: -2\n')
    config = load_config(path)
    assert config.actor_lr == 3e-4 and config.sac.target_entropy == -2.0
    assert config.name == 'my_run'


def test_invalid_yaml_names_the_file(tmp_path):
    path = tmp_path / 'bad.yaml'
    path.write_text('robot: [unclosed\n')
    with pytest.raises(ConfigError, match='bad.yaml'):
        load_config(path)


@pytest.mark.parametrize('path', sorted(CONFIGS.glob('*.yaml')), ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    config = load_config(path)
    assert config.name == path.stem


@pytest.mark.parametrize('text, key', [
    ('actor_lr: .inf', 'actor_lr'),
    ('critic_lr: .nan', 'critic_lr'),
    ('td3:\n  exploration_noise: .inf', 'td3.exploration_noise'),
    ('td3:\n  policy_noise: 1e400', 'td3.policy_noise'),
    ('sac:\n  target_entropy: -.inf', 'sac.target_entropy'),
])
def test_non_finite_numbers_are_refused_naming_the_key(tmp_path, text, key):
    path = tmp_path / 'run.yaml'
    path.write_text(f'robot: walker_7_main\n{text}\n')
    with pytest.raises(ConfigError, match=rf"config key '{key}': expected a finite number"):
        load_config(path)


@pytest.mark.parametrize('text, key', [
    ('actor_lr: 1.0e-3\nactor_lr: 3.0e-4\n', 'actor_lr'),
    ('td3:\n  policy_noise: 0.1\n  policy_noise: 0.3\n', 'policy_noise'),
])
def test_duplicate_yaml_keys_are_refused_naming_the_key(tmp_path, text, key):
    path = tmp_path / 'dup.yaml'
    path.write_text(f'robot: walker_7_main\n{text}')
    with pytest.raises(ConfigError, match=rf"dup.yaml'.*duplicate key '{key}'"):
        load_config(path)


RUN_CONFIGS = sorted((CONFIGS.parents[1] / 'models' / 'training').glob('*/config.yaml'))


@pytest.mark.parametrize('path', RUN_CONFIGS, ids=lambda p: p.parent.name)
def test_committed_run_configs_load(path):
    assert load_config(path).to_dict()['policy']['name'] in ('mlp', 'ear', 'solar', 'sar')


@pytest.mark.parametrize('path', [p for p in RUN_CONFIGS if 'hidden_sizes' in yaml.safe_load(
    p.read_text())], ids=lambda p: p.parent.name)
def test_shipped_run_configs_with_top_level_hidden_sizes_still_load(path):
    config = load_config(path)
    assert config.policy.name == 'mlp'
    assert config.policy.settings.hidden_sizes == [256, 256]
    assert config.to_dict()['policy'] == {'name': 'mlp', 'hidden_sizes': [256, 256],
                                          'activation': 'relu'}


def test_a_morphology_set_trains_on_its_family_split():
    config = config_from_dict({'robots': 'walker++'})
    assert config.robot_split() == (['walker_2_main', 'walker_4_main', 'walker_5_main',
                                     'walker_7_main'], ['walker_3_main', 'walker_6_main'])
    assert config.name == 'walker++_td3' and config.to_dict()['robots'] == 'walker++'
    listed = config_from_dict({'robots': ['hopper_5', 'hopper_3']})  # hopper_5: zero-shot
    assert listed.robot_split() == (['hopper_3'], ['hopper_5'])
