"""Show a synergy structure: a table of clusters and a picture of the body coloured by synergy.

Used by ``synergy-control synergies show``; torch-free (a structure comes from a policy card or
from the morphology alone).
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

from synergy_control.robots import Robot
from synergy_control.synergy import SynergyStructure, body_colours


def describe(robot: Robot, structure: SynergyStructure) -> str:
    """Text table: each synergy, its centre limb and its member limbs (actuator order)."""
    if structure.actuators != len(robot.limbs) - 1:
        raise ValueError(f'structure has {structure.actuators} actuators, robot '
                         f"'{robot.name}' has {len(robot.limbs) - 1}")
    actuators = [limb.name for limb in robot.limbs[1:]]
    lines = [f'{robot.name}: {structure.count} synergies over {structure.actuators} actuators']
    for synergy, centre in enumerate(structure.centres):
        members = [name for name, label in zip(actuators, structure.labels) if label == synergy]
        lines.append(f'  synergy {synergy}: centre {actuators[centre]:<16} '
                     f"members {', '.join(members)}")
    return '\n'.join(lines)


def draw(robot: Robot, structure: SynergyStructure, out: str | Path, *, width: int = 480,
         height: int = 360) -> Path:
    """Write the picture of :func:`render` to ``out`` (PNG)."""
    return write_image(render(robot, structure, width=width, height=height), out)


def write_image(image: np.ndarray, out: str | Path) -> Path:
    """Write an RGB image (its folder made if needed); return the path."""
    import imageio.v2 as imageio
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    imageio.imwrite(out, image)
    return out


def render(robot: Robot, structure: SynergyStructure, *, width: int = 480,
           height: int = 360) -> np.ndarray:
    """Render the robot (:func:`display_pose`), limbs coloured by synergy, centres marked.

    A white sphere sits on each synergy's centre limb.
    """
    from synergy_control.render import select_gl_backend  # deferred: picks OpenGL
    select_gl_backend()
    model = robot.model
    colours = body_colours(robot, structure)
    original = model.geom_rgba.copy()
    data = mujoco.MjData(model)
    data.qpos[:] = display_pose(robot)
    mujoco.mj_forward(model, data)
    try:
        for geom in range(model.ngeom):
            body = int(model.geom_bodyid[geom])
            if body > 0:
                model.geom_rgba[geom, :3] = colours[body]
        with mujoco.Renderer(model, height, width) as renderer:
            camera = mujoco.MjvCamera()
            mujoco.mjv_defaultFreeCamera(model, camera)
            camera.lookat[:] = data.subtree_com[1]
            camera.distance, camera.azimuth, camera.elevation = 3.5, 90.0, -10.0
            renderer.update_scene(data, camera=camera)
            for centre in structure.centres:
                _add_sphere(renderer.scene, data.xpos[robot.limbs[centre + 1].body_id])
            image = renderer.render()
    finally:
        model.geom_rgba[:] = original
    return image


def display_pose(robot: Robot, spread: float = 0.4) -> np.ndarray:
    """Return the rest pose with the torso's child limbs swung alternately forward and back.

    Planar robots have their left and right limbs in one plane: spread apart, each
    synergy's colour can be seen.
    """
    qpos = robot.model.qpos0.copy()
    children = [limb for limb in robot.limbs[1:] if limb.parent == 0]
    for i, limb in enumerate(children):
        joint = robot.model.joint(limb.joint)
        angle = spread if i % 2 == 0 else -spread
        qpos[joint.qposadr[0]] = np.clip(angle, *joint.range) if joint.limited else angle
    return qpos


def _add_sphere(scene: mujoco.MjvScene, position: np.ndarray, radius: float = 0.06) -> None:
    if scene.ngeom >= scene.maxgeom:
        return
    mujoco.mjv_initGeom(scene.geoms[scene.ngeom], mujoco.mjtGeom.mjGEOM_SPHERE,
                        np.full(3, radius), position, np.eye(3).reshape(-1),
                        np.array([1.0, 1.0, 1.0, 0.9], dtype=np.float32))
    scene.ngeom += 1
