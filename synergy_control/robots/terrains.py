"""Generated terrains for planar robots: the floor replaced by a heightfield built with MjSpec.

SAR's terrain transfer (seed 003: hilly, rough and stair terrains): the planar walker meets a
height profile along +x (constant across y), after a flat start of ``flat_start`` metres so
that every reset stands on level ground. The start is short (0.5 m) because walkers early in
training fall within about 1.5 m: behind a 2 m start, SAR-RL and SAC runs of 30k steps never
met the terrain, and their slope, rough and stairs runs were identical step for step. Heights
stay within ``MAX_HEIGHT`` of the start: the environment's health test reads the torso's world
height (gymnasium's), so a standing walker stays inside its healthy range everywhere; a fall
on a raised part is caught by the torso's pitch limit rather than by its height. The profiles
are seeded, so a variant is one fixed model (one model hash).
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

MAX_HEIGHT = 0.4  # m; the walker's healthy torso range (0.8, 2.0) is 0.45 m above its stance
KINDS = ('slope', 'rough', 'stairs')


@dataclass(frozen=True)
class Terrain:
    """A height profile h(x) ≥ 0 along the direction of travel.

    - ``slope``: hills of ``angle`` degrees up to ``height``, then as far down, repeated;
    - ``rough``: independent uniform heights in [0, ``height``] per ``block`` metres;
    - ``stairs``: ``steps`` steps of ``height`` / ``steps`` rise and ``block`` tread up, a
      landing, as many down, a landing, repeated.
    """

    kind: str
    height: float
    angle: float = 5.0
    block: float = 0.4
    steps: int = 4
    seed: int = 0
    flat_start: float = 0.5
    start: float = -5.0
    length: float = 100.0
    resolution: float = 0.025
    half_width: float = 1.0

    def __post_init__(self) -> None:
        """Refuse unknown kinds and heights outside (0, MAX_HEIGHT], naming the value."""
        if self.kind not in KINDS:
            raise ValueError(f"terrain kind '{self.kind}' is not one of {', '.join(KINDS)}")
        if not 0.0 < self.height <= MAX_HEIGHT:
            raise ValueError(f'terrain height must be in (0, {MAX_HEIGHT}] m, got {self.height}')

    def profile(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the sample positions x and the heights h(x) of the terrain."""
        x = self.start + np.arange(round(self.length / self.resolution) + 1) * self.resolution
        s = np.maximum(x - self.flat_start, 0.0)  # distance into the terrain
        if self.kind == 'slope':
            run = self.height / np.tan(np.radians(self.angle))
            h = self.height * (1.0 - np.abs(s % (2 * run) - run) / run)
        elif self.kind == 'rough':
            rng = np.random.default_rng(self.seed)
            blocks = rng.uniform(0.0, self.height, int(s.max() / self.block) + 1)
            h = blocks[(s / self.block).astype(int)]
        else:
            flight = self.steps * self.block
            period = 2 * flight + 2 * self.block  # up, landing, down, landing
            phase = s % period
            up = np.minimum(np.floor(phase / self.block) + 1, self.steps)
            down = np.clip(self.steps - np.floor((phase - flight - self.block) / self.block),
                           0, self.steps)
            h = np.where(phase < flight + self.block, up, down) * self.height / self.steps
        return x, np.where(x < self.flat_start, 0.0, h)

    def apply(self, spec: mujoco.MjSpec) -> None:
        """Turn the spec's ``floor`` geom into a heightfield of this profile."""
        x, h = self.profile()
        top = float(h.max())
        rows = 3
        spec.add_hfield(name='terrain', nrow=rows, ncol=len(x),
                        size=[self.length / 2, self.half_width, top, 0.1],
                        userdata=np.tile(h / top, rows).tolist())
        floor = spec.geom('floor')
        floor.type = mujoco.mjtGeom.mjGEOM_HFIELD
        floor.hfieldname = 'terrain'
        floor.pos = [self.start + self.length / 2, 0.0, 0.0]
