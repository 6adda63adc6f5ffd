"""SOLAR's untrained export graph: one ONNX file with named sizes serving every robot of a set."""

import onnx

from synergy_control.card import METADATA_KEY, PolicyCard
from synergy_control.methods.solar.untrained import export_untrained_set

SET = ['walker_5_main', 'walker_2_main', 'walker_6_main']


def test_one_graph_with_named_sizes_serves_every_robot(tmp_path):
    out = tmp_path / 'solar.onnx'
    card = export_untrained_set(SET, out)
    model = onnx.load(out)
    dims = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in [*model.graph.input, *model.graph.output]}
    assert dims == {'obs': ['batch', 'observation_size'],
                    'membership': ['actuators', 'synergies'],
                    'action': ['batch', 'actuators'], 'synergy': ['batch', 'synergies']}
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta['robots'].split(',') == SET and meta['robot'] == SET[0]
    stored = PolicyCard.from_yaml(meta[METADATA_KEY])
    assert stored == card and stored.robots == SET
    assert sorted(stored.training['export_parity_by_robot']) == sorted(SET)
    assert max(stored.training['export_parity_by_robot'].values()) <= 1e-5
