"""Format-1 cards: read as one-input graphs, or refused by key when they cannot be."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from synergy_control.card import CARD_FORMAT, CardError, PolicyCard

ROOT = Path(__file__).resolve().parents[2]
SOURCE = 'models/x.onnx'


def test_shipped_v1_cards_are_read_as_one_input_graphs():
    for name, (size, actuators) in {'td3/walker_td3': (17, 6), 'hopper_td3': (11, 3)}.items():
        text = (ROOT / 'models' / f'{name}.card.yaml').read_text()
        assert 'policy-card/1' in text
        card = PolicyCard.from_yaml(text, source=f'models/{name}.card.yaml')
        assert card.onnx['inputs'] == [{'name': 'obs', 'shape': ['batch', size],
                                        'source': 'observation'}]
        assert card.onnx['outputs'] == [{'name': 'action', 'shape': ['batch', actuators],
                                         'role': 'action'}]
        assert card.tasks is None and card.format == CARD_FORMAT


def test_v1_card_with_task_embeddings_is_refused_by_key():
    data = yaml.safe_load((ROOT / 'models' / 'td3' / 'walker_td3.card.yaml').read_text())
    data['task_embeddings'] = {'run': [1.0]}
    with pytest.raises(CardError, match="key 'task_embeddings' of a format-1 card"):
        PolicyCard.from_yaml(yaml.safe_dump(data), source=SOURCE)
