"""Render a policy rollout offscreen with MuJoCo's Renderer on a working OpenGL backend.

Nothing here runs at import: the backend is chosen when a frame is first needed, so that
importing the package (nodes, launch files, training) never loads OpenGL.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import os
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio

from synergy_control.envs import LocomotionEnv
from synergy_control.evaluation import runtime_policy
from synergy_control.rollout import rollout_steps
from synergy_control.runtime import PolicyRuntime

#: Headless backends in order of preference: EGL (GPU or Mesa), then OSMesa (software).
GL_BACKENDS = ('egl', 'osmesa')
GL_INSTALL_HINT = ('install the EGL or OSMesa library (Debian/Ubuntu: apt install libegl1, '
                   'or apt install libosmesa6) or set MUJOCO_GL to a backend that works here')
_PROBE = ('import mujoco; m = mujoco.MjModel.from_xml_string("<mujoco/>"); '
          'r = mujoco.Renderer(m, 8, 8); r.render(); r.close()')


class RenderBackendError(RuntimeError):
    """No OpenGL backend can render here (the message says what to install)."""


def _probe(backend: str) -> str | None:
    """Render one frame with ``backend`` in a child process; None if it works, else why not.

    A child process, because MuJoCo and PyOpenGL fix their platform when first imported: a
    failed try would leave this process unable to try the next backend.
    """
    env = {**os.environ, 'MUJOCO_GL': backend}
    try:
        result = subprocess.run([sys.executable, '-c', _PROBE], env=env, capture_output=True,
                                text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return 'timed out'
    if result.returncode == 0:
        return None
    lines = result.stderr.strip().splitlines()
    return lines[-1] if lines else f'exit code {result.returncode}'


@functools.cache
def select_gl_backend() -> str:
    """Make MuJoCo render with the first working backend; return its name.

    ``MUJOCO_GL``, when set, is the only backend tried; otherwise EGL, then OSMesa.
    RenderBackendError names each failure and what to install.
    """
    chosen = os.environ.get('MUJOCO_GL', '').strip().lower()
    failures = {}
    for backend in (chosen,) if chosen else GL_BACKENDS:
        failure = _probe(backend)
        if failure is None:
            os.environ['MUJOCO_GL'] = backend
            # mujoco reads MUJOCO_GL when this module is imported (with the default, GLFW,
            # which needs a display): import it again to pick the chosen backend up.
            importlib.reload(importlib.import_module('mujoco.rendering.classic.gl_context'))
            return backend
        failures[backend] = failure
    tried = '; '.join(f'MUJOCO_GL={name}: {why}' for name, why in failures.items())
    raise RenderBackendError(f'no OpenGL backend can render offscreen ({tried}): '
                             f'{GL_INSTALL_HINT}')


def render_policy(policy: str | Path, out: str | Path, *, robot: str | None = None,
                  seconds: float = 5.0, seed: int = 0, width: int = 320,
                  height: int = 240, fps: float = 30.0) -> int:
    """Write a GIF or MP4 of the policy driving ``robot``; returns the number of frames.

    The policy runs every control step; a frame is kept every ``control rate / fps`` steps.
    """
    out = Path(out)
    if out.suffix not in ('.gif', '.mp4'):
        raise ValueError(f'render output must end in .gif or .mp4, got {out.name}')
    select_gl_backend()
    runtime = PolicyRuntime(policy, robot)
    env = LocomotionEnv(runtime.robot, obs_mode=runtime.card.observation['mode'],
                        render_mode='rgb_array', width=width, height=height)
    stride = max(1, round(1.0 / (env.dt * fps)))
    fps = 1.0 / (env.dt * stride)
    frames, steps = [], itertools.count()

    def keep_frame(_observation) -> None:
        if next(steps) % stride == 0:
            frames.append(env.render())
    rollout_steps(env, runtime_policy(runtime, env), int(seconds / env.dt), seed, commands=True,
                  observe=keep_frame)
    env.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == '.gif':
        imageio.mimsave(out, frames, duration=1000.0 / fps, loop=0)
    else:
        imageio.mimsave(out, frames, fps=fps)
    return len(frames)
