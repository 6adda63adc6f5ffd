"""SAR's pictures: the VAF curve, each synergy's actuator loadings and a pose sweep along it.

matplotlib (Agg, files only) and the OpenGL backend are loaded when a picture is drawn.
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

from synergy_control.actions import ActionScaling
from synergy_control.methods.sar.basis import SynergyBasis
from synergy_control.robots import Robot


def pyplot():
    """Return matplotlib's pyplot on the Agg backend (files only)."""
    import matplotlib
    matplotlib.use('Agg')  # files only; never a display backend
    from matplotlib import pyplot as plt
    return plt


def plot_vaf(vaf: np.ndarray, count: int, threshold: float | None, out: str | Path,
             title: str = '') -> None:
    """Cumulative VAF of 1..A principal components, the threshold and the chosen count."""
    plt = pyplot()
    components = np.arange(1, len(vaf) + 1)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(components, vaf, 'o-', color='C0', label='VAF')
    if threshold is not None:
        ax.axhline(threshold, color='grey', ls='--', lw=1, label=f'threshold {threshold:g}')
    ax.axvline(count, color='C3', lw=1, label=f'{count} synergies')
    ax.set(xlabel='number of components', ylabel='variance accounted for', ylim=(0, 1.02),
           xticks=components, title=title)
    ax.legend(loc='lower right')
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def plot_loadings(basis: SynergyBasis, actuators: list[str], out: str | Path,
                  title: str = '') -> None:
    """Heat map of each synergy's actuator loadings (the rows of the decoder matrix)."""
    plt = pyplot()
    bound = float(np.abs(basis.matrix).max())
    fig, ax = plt.subplots(figsize=(1.5 + 0.45 * len(actuators), 1.5 + 0.4 * basis.count))
    image = ax.imshow(basis.matrix, cmap='RdBu_r', vmin=-bound, vmax=bound, aspect='auto')
    ax.set_xticks(range(len(actuators)), actuators, rotation=60, ha='right', fontsize=8)
    ax.set_yticks(range(basis.count), [f'synergy {k + 1}' for k in range(basis.count)],
                  fontsize=8)
    fig.colorbar(image, ax=ax, label='loading')
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


class PoseSweep:
    """Where a held action takes the limbs: root fixed, contacts off, from the rest pose.

    A torque-driven limb has no pose per activation; holding the decoded action for
    ``seconds`` shows where it drives the limbs against gravity, damping and joint limits.
    """

    def __init__(self, robot: Robot, seconds: float = 0.3):
        self.model = mujoco.MjModel.from_xml_string(robot.xml)
        self.model.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONTACT
        self.scaling = ActionScaling.from_robot(robot)
        self.steps = int(round(seconds / self.model.opt.timestep))
        adr = robot.root.qpos_adr[0], robot.root.qvel_adr[0]
        free = robot.root.kind == 'free'
        self.root_q = slice(adr[0], adr[0] + (7 if free else len(robot.root.qpos_adr)))
        self.root_v = slice(adr[1], adr[1] + (6 if free else len(robot.root.qvel_adr)))

    def pose(self, action: np.ndarray) -> mujoco.MjData:
        """State after holding ``action`` (clipped to [-1, 1])."""
        data = mujoco.MjData(self.model)
        data.ctrl[:] = self.scaling.action_to_ctrl(np.clip(action, -1.0, 1.0))
        for _ in range(self.steps):
            mujoco.mj_step(self.model, data)
            data.qpos[self.root_q], data.qvel[self.root_v] = self.model.qpos0[self.root_q], 0.0
        mujoco.mj_forward(self.model, data)
        return data


def plot_sweep(robot: Robot, basis: SynergyBasis, out: str | Path,
               values: tuple[float, ...] = (-1.0, -0.5, 0.0, 0.5, 1.0),
               size: tuple[int, int] = (200, 160)) -> None:
    """Render the pose along each synergy: z_k swept over ``values``, the others 0."""
    from synergy_control.render import select_gl_backend
    select_gl_backend()
    plt = pyplot()
    sweep = PoseSweep(robot)
    camera = 'track' if mujoco.mj_name2id(sweep.model, mujoco.mjtObj.mjOBJ_CAMERA,
                                          'track') >= 0 else -1
    renderer = mujoco.Renderer(sweep.model, size[1], size[0])
    fig, axes = plt.subplots(basis.count, len(values), squeeze=False,
                             figsize=(1.6 * len(values), 1.4 * basis.count))
    for k in range(basis.count):
        for j, value in enumerate(values):
            z = np.zeros(basis.count)
            z[k] = value
            renderer.update_scene(sweep.pose(basis.decode(z)), camera=camera)
            ax = axes[k, j]
            ax.imshow(renderer.render())
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(f'synergy {k + 1}', fontsize=8)
            if k == 0:
                ax.set_title(f'z = {value:+g}', fontsize=8)
    renderer.close()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
