"""Render a policy rollout offscreen (MuJoCo Renderer: OSMesa here, EGL on GPU machines)."""

from __future__ import annotations

import os
from pathlib import Path

import imageio.v2 as imageio

from synergy_control.envs import LocomotionEnv
from synergy_control.runtime import PolicyRuntime


def render_policy(policy: str | Path, out: str | Path, *, robot: str | None = None,
                  seconds: float = 5.0, seed: int = 0, width: int = 320,
                  height: int = 240, fps: float = 30.0) -> int:
    """Write a GIF or MP4 of the policy driving ``robot``; returns the number of frames.

    The policy runs every control step; a frame is kept every ``control rate / fps`` steps.
    """
    os.environ.setdefault('MUJOCO_GL', 'osmesa')
    out = Path(out)
    if out.suffix not in ('.gif', '.mp4'):
        raise ValueError(f'render output must end in .gif or .mp4, got {out.name}')
    runtime = PolicyRuntime(policy, robot)
    env = LocomotionEnv(runtime.robot, obs_mode=runtime.card.observation['mode'],
                        render_mode='rgb_array', width=width, height=height)
    env.reset(seed=seed)
    stride = max(1, round(1.0 / (env.dt * fps)))
    fps = 1.0 / (env.dt * stride)
    frames = []
    for step in range(int(seconds / env.dt)):
        if step % stride == 0:
            frames.append(env.render())
        _, _, terminated, truncated, _ = env.step_command(runtime.act(env.data.qpos,
                                                                      env.data.qvel).commands)
        if terminated or truncated:
            env.reset(seed=seed + step + 1)
    env.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == '.gif':
        imageio.mimsave(out, frames, duration=1000.0 / fps, loop=0)
    else:
        imageio.mimsave(out, frames, fps=fps)
    return len(frames)
