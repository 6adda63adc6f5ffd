"""Offscreen rendering: the backend is chosen when rendering, never at import."""

import json
import os
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio
import pytest

from synergy_control.export import export_untrained
from synergy_control.render import RenderBackendError, render_policy, select_gl_backend

ROOT = Path(__file__).resolve().parents[1]


def _backend() -> tuple[str | None, str]:
    try:
        return select_gl_backend(), ''
    except RenderBackendError as error:
        return None, str(error)


BACKEND, NO_BACKEND = _backend()
needs_backend = pytest.mark.skipif(BACKEND is None, reason=NO_BACKEND)


def _without_gl_choice() -> dict[str, str]:
    """This environment as a fresh machine's: no MUJOCO_GL, no PyOpenGL platform."""
    return {k: v for k, v in os.environ.items() if k not in ('MUJOCO_GL', 'PYOPENGL_PLATFORM')}


def test_importing_the_package_nodes_and_launch_plan_loads_no_opengl():
    modules = ['synergy_control', 'synergy_control.cli', 'synergy_control.ros.launch_plan',
               'synergy_control.render', 'synergy_control.sim_runner',
               'synergy_control.ros.sim_bridge', 'synergy_control.ros.synergy_controller']
    code = (f'import importlib, json, os, sys\nfor m in {modules!r}: importlib.import_module(m)\n'
            "print(json.dumps([os.environ.get('MUJOCO_GL'), "
            "sorted(m for m in sys.modules if m.split('.')[0] == 'OpenGL')]))")
    result = subprocess.run([sys.executable, '-c', code], env=_without_gl_choice(),
                            capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(result.stdout.splitlines()[-1]) == [None, []]


def test_the_test_suite_collects_without_a_gl_choice():
    """The README's test command on a fresh machine: collection imports MuJoCo everywhere."""
    result = subprocess.run(
        [sys.executable, '-m', 'pytest', '--collect-only', '-q', '-p', 'no:cacheprovider',
         'test/test_render.py', 'test/envs'], cwd=ROOT, env=_without_gl_choice(),
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_no_working_backend_says_what_to_install(monkeypatch):
    monkeypatch.setenv('MUJOCO_GL', 'nogl')
    select_gl_backend.cache_clear()
    try:
        with pytest.raises(RenderBackendError, match=r'MUJOCO_GL=nogl.*apt install libegl1'):
            select_gl_backend()
    finally:
        select_gl_backend.cache_clear()


@needs_backend
def test_render_writes_a_gif_at_the_requested_rate(tmp_path):
    policy = tmp_path / 'hopper.onnx'
    export_untrained('hopper_4', policy)
    frames = render_policy(policy, tmp_path / 'hopper.gif', seconds=1.0, fps=25, width=64,
                           height=48)
    assert frames == 25
    video = imageio.mimread(tmp_path / 'hopper.gif')
    assert len(video) == 25 and video[0].shape[:2] == (48, 64)


@needs_backend
def test_render_from_a_fresh_process_picks_a_backend(tmp_path):
    """No MUJOCO_GL set: the CLI renders with the first backend that works here."""
    policy = tmp_path / 'hopper.onnx'
    export_untrained('hopper_4', policy)
    result = subprocess.run(
        [sys.executable, '-m', 'synergy_control.cli', 'render', '--policy', str(policy),
         '--out', str(tmp_path / 'hopper.gif'), '--seconds', '0.2', '--width', '32',
         '--height', '24'], env=_without_gl_choice(), capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / 'hopper.gif').is_file()


def test_render_refuses_unknown_formats(tmp_path):
    with pytest.raises(ValueError, match='.gif or .mp4'):
        render_policy('unused.onnx', tmp_path / 'out.avi')
