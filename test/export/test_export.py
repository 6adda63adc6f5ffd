"""Export: ONNX graph + card in metadata + readable card beside it, torch/ORT parity."""

import numpy as np
import onnx
import pytest
import torch

from synergy_control.card import METADATA_KEY, CardError, PolicyCard
from synergy_control.export import ExportError, card_path, export_policy, export_untrained
from synergy_control.robots import get_robot


def test_untrained_export_writes_model_and_card(tmp_path):
    out = tmp_path / 'walker.onnx'
    card = export_untrained('walker_7_main', out)
    model = onnx.load(out)
    meta = {p.key: p.value for p in model.metadata_props}
    stored = PolicyCard.from_yaml(meta[METADATA_KEY])
    assert stored.joint_names == get_robot('walker_7_main').joint_names
    assert stored.model_hash == get_robot('walker_7_main').model_hash
    assert meta['joint_names'].split(',') == stored.joint_names
    assert PolicyCard.from_yaml(card_path(out).read_text()) == stored == card
    assert stored.training['export_parity_max_abs_diff'] <= 1e-5
    assert stored.action['command_high'] == [100.0] * 6


class TwoHeads(torch.nn.Module):
    """A policy with a synergy output: actions = tanh(T z), z = synergy activations."""

    def __init__(self, obs: int, act: int, syn: int):
        super().__init__()
        self.encoder = torch.nn.Linear(obs, syn)
        self.transform = torch.nn.Linear(syn, act, bias=False)

    def forward(self, obs):
        z = torch.tanh(self.encoder(obs))
        return torch.tanh(self.transform(z)), z


def test_synergy_output_is_exported(tmp_path):
    robot = get_robot('hopper_4')
    card = PolicyCard.for_robot(robot, name='syn', method='test', obs_mode='flat',
                                synergy={'count': 2, 'labels': [0, 0, 1]})
    export_policy(TwoHeads(11, 3, 2), card, tmp_path / 'syn.onnx')
    assert card.onnx['outputs'] == ['action', 'synergy']


class Unexportable(torch.nn.Module):
    """Computes something else while being traced for ONNX than when run in torch."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(11, 3)

    def forward(self, obs):
        scale = 0.5 if torch.onnx.is_in_onnx_export() else 1.0
        return torch.tanh(self.linear(obs)) * scale


def test_parity_failure_is_an_export_error(tmp_path):
    card = PolicyCard.for_robot(get_robot('hopper_4'), name='bad', method='test', obs_mode='flat')
    with pytest.raises(ExportError, match='differ'):
        export_policy(Unexportable(), card, tmp_path / 'bad.onnx')
    assert not (tmp_path / 'bad.onnx').exists()


def test_card_errors_name_the_keys():
    card = PolicyCard.for_robot(get_robot('hopper_4'), name='x', method='m', obs_mode='flat')
    text = card.to_yaml().replace('model_hash:', 'model_hashh:')
    with pytest.raises(CardError, match='model_hash'):
        PolicyCard.from_yaml(text)
    with pytest.raises(CardError, match='format'):
        PolicyCard.from_yaml('name: x\n')


def test_card_check_names_the_joints():
    card = PolicyCard.for_robot(get_robot('walker_6_main'), name='x', method='m',
                                obs_mode='modular')
    with pytest.raises(CardError, match='foot_left_joint'):
        card.check_robot(get_robot('walker_7_main'))


def test_random_and_sample_observations_are_checked(tmp_path):
    samples = np.random.default_rng(0).normal(size=(5, 17)) * 100
    card = PolicyCard.for_robot(get_robot('walker_7_main'), name='x', method='m',
                                obs_mode='flat')
    module = torch.nn.Sequential(torch.nn.Linear(17, 6), torch.nn.Tanh())
    assert export_policy(module, card, tmp_path / 'x.onnx', sample_observations=samples) < 1e-5
