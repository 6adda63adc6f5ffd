"""Offscreen rendering of a policy rollout (needs OSMesa or EGL; skipped without either)."""

import imageio.v2 as imageio
import mujoco
import pytest

from synergy_control.export import export_untrained
from synergy_control.render import render_policy
from synergy_control.robots import get_robot


def _renderer_available() -> bool:
    try:
        mujoco.Renderer(get_robot('hopper_4').model, 32, 32).close()
    except Exception:  # no GL backend: MuJoCo raises several error types
        return False
    return True


@pytest.mark.skipif(not _renderer_available(), reason='no OpenGL backend (apt install libosmesa6)')
def test_render_writes_a_gif_at_the_requested_rate(tmp_path):
    policy = tmp_path / 'hopper.onnx'
    export_untrained('hopper_4', policy)
    frames = render_policy(policy, tmp_path / 'hopper.gif', seconds=1.0, fps=25, width=64,
                           height=48)
    assert frames == 25
    video = imageio.mimread(tmp_path / 'hopper.gif')
    assert len(video) == 25 and video[0].shape[:2] == (48, 64)


def test_render_refuses_unknown_formats(tmp_path):
    with pytest.raises(ValueError, match='.gif or .mp4'):
        render_policy('unused.onnx', tmp_path / 'out.avi')
