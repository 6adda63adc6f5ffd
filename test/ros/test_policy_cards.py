"""Malformed policy cards stop the node graph with a reason that names the key and the file."""

from __future__ import annotations

import onnx
import pytest
import yaml

from synergy_control.card import METADATA_KEY
from synergy_control.runtime import PolicyLoadError
from synergy_control.sim_runner import run_sim


@pytest.fixture(params=[('action', [1, 2], "key 'action': expected a mapping"),
                        ('synergy', {'method': 'm', 'count': 'two', 'labels': [0] * 6},
                         "key 'synergy.count': expected an integer")],
                ids=['action-list', 'synergy-count-string'])
def malformed(request, policies, tmp_path):
    """The walker policy with one card key broken, and the message that must name it."""
    key, value, message = request.param
    model = onnx.load(policies['walker_7_main'])
    for entry in model.metadata_props:
        if entry.key == METADATA_KEY:
            card = yaml.safe_load(entry.value)
            card[key] = value
            entry.value = yaml.safe_dump(card)
    path = tmp_path / 'malformed.onnx'
    onnx.save(model, path)
    return path, message


@pytest.mark.parametrize('robot', [None, 'walker_7_main'], ids=['card-robot', 'given-robot'])
def test_sim_with_a_malformed_card_says_which_key(malformed, robot, local_dds):
    path, message = malformed
    with pytest.raises(PolicyLoadError, match=message) as error:
        run_sim(robot, path, mode='lockstep', duration=0.2, status=False)
    assert f'policy card {path}' in str(error.value)
    if robot:  # the controller itself refused the card, and said why
        assert 'synergy_controller did not start: policy card' in str(error.value)
