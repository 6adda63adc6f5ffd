"""Format-1 cards (the first shipped models) read as format 2: one ``obs`` input."""

from __future__ import annotations

from typing import Any

from synergy_control.card.schema import BATCH, CARD_FORMAT, OPSET, ROLES, CardError


def migrate_v1(data: dict[str, Any], where: str) -> dict[str, Any]:
    """Read a format-1 card (one ``obs`` input; ``action`` and optional ``synergy`` outputs)."""
    data = dict(data)
    if data.pop('task_embeddings', None) is not None:
        raise CardError(f"{where}: key 'task_embeddings' of a format-1 card cannot be migrated; "
                        're-export the policy')
    old = data.get('onnx')
    if not isinstance(old, dict) or old.get('outputs') not in (['action'], ['action', 'synergy']):
        raise CardError(f"{where}: key 'onnx': expected a mapping with 'input' and 'outputs' "
                        f"['action'] or ['action', 'synergy'], got {old!r}")
    roles = dict(zip(old['outputs'], ROLES))
    keys = ('actuator_names', 'synergy', 'observation')
    actuators, synergy, observation = (data.get(k) for k in keys)
    widths = {'action': len(actuators) if isinstance(actuators, list) else None,
              'synergy': synergy.get('count') if isinstance(synergy, dict) else None}
    size = observation.get('size') if isinstance(observation, dict) else None
    data['onnx'] = {'opset': old.get('opset', OPSET),
                    'inputs': [{'name': old.get('input', 'obs'), 'shape': [BATCH, size],
                                'source': 'observation'}],
                    'outputs': [{'name': n, 'shape': [BATCH, widths.get(n)], 'role': r}
                                for n, r in roles.items()]}
    data['format'] = CARD_FORMAT
    return data
